import type { Rect, Size } from "../image/bitmap.ts";
import type { CancelToken } from "../image/cancel.ts";
import type { Rgba } from "../image/color.ts";
import type { MagickApi, Wand } from "./api.ts";
import { check } from "./exception.ts";
import { withPixelWand } from "./pixel_wand.ts";
import { rewritePixels } from "./pixels.ts";

/**
 * Grows the current image to `size` with the image at `at` and the new pixels exactly
 * `color`. The library's extent composites the image over its background, which would blend
 * a half-transparent image with the colour; so the extent runs on a transparent (or, for an
 * opaque result, black) background and the border is painted afterwards, in 16-bit samples,
 * strip by strip, checking `cancel` between strips.
 *
 * @throws {Unprocessable} with the library's message
 */
export function extendWand(
  api: MagickApi,
  wand: Wand,
  size: Size,
  at: { x: number; y: number },
  color: Rgba,
  cancel: CancelToken,
): void {
  const { c, dialect } = api;
  const alpha = color[3] < 255 || api.hasAlpha(wand);
  if (alpha && !api.hasAlpha(wand)) check(api, wand, c.MagickSetImageMatte(wand, 1), "pad");
  withPixelWand(api, alpha ? "none" : "black", (background) => {
    check(api, wand, c.MagickSetImageBackgroundColor(wand, background), "pad");
  });
  const inside = {
    ...at,
    width: Number(c.MagickGetImageWidth(wand)),
    height: Number(c.MagickGetImageHeight(wand)),
  };
  const sign = dialect.extentOffsetSign;
  const [width, height] = [BigInt(size.width), BigInt(size.height)];
  const [x, y] = [BigInt(sign * at.x), BigInt(sign * at.y)];
  check(api, wand, c.MagickExtentImage(wand, width, height, x, y), "pad");
  check(api, wand, c.MagickSetImagePage(wand, 0n, 0n, 0n, 0n), "pad");
  paintBorder(api, wand, inside, color, cancel);
}

/** Sets every pixel outside the rectangle `inside` to `color`. */
function paintBorder(
  api: MagickApi,
  wand: Wand,
  inside: Rect,
  color: Rgba,
  cancel: CancelToken,
): void {
  const map = api.hasAlpha(wand) ? "RGBA" : "RGB";
  const channels = map.length;
  const fill = color.slice(0, channels).map((value) => value * 257);
  const width = Number(api.c.MagickGetImageWidth(wand));
  const right = inside.x + inside.width;
  const bottom = inside.y + inside.height;
  rewritePixels(api, wand, map, (samples, y, rows) => {
    for (let row = y; row < y + rows; row++) {
      const border = row < inside.y || row >= bottom;
      for (let x = 0; x < width; x++) {
        if (!border && x >= inside.x && x < right) {
          x = right - 1;
          continue;
        }
        samples.set(fill, ((row - y) * width + x) * channels);
      }
    }
  }, cancel);
}
