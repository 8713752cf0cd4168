import { cString, type MagickApi } from "./api.ts";

/**
 * Runs `use` with a pixel wand set to `color` (a colour name such as "white" or "none"),
 * and destroys the pixel wand afterwards whatever happens.
 */
export function withPixelWand<T>(
  api: MagickApi,
  color: string,
  use: (pixel: Deno.PointerObject) => T,
): T {
  const pixel = api.c.NewPixelWand();
  if (!pixel) throw new Error(`${api.dialect.label} could not allocate a pixel wand`);
  try {
    if (!api.c.PixelSetColor(pixel, cString(color))) {
      throw new Error(`${api.dialect.label} does not know the colour "${color}"`);
    }
    return use(pixel);
  } finally {
    api.c.DestroyPixelWand(pixel);
  }
}
