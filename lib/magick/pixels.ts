import { type Bitmap, createBitmap } from "../image/bitmap.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { MagickApi, Wand } from "./api.ts";
import { check } from "./exception.ts";

/** Samples per strip: pixels pass through JavaScript a strip of rows at a time (2 MiB). */
export const STRIP_SAMPLES = 1 << 20;

/**
 * Walks the image as 16-bit samples in `map` order ("RGB" or "RGBA"), one strip of rows at a
 * time, so a large image never needs a full copy in JavaScript memory. `visit` may return
 * false to stop early; `cancel` is checked before each strip.
 *
 * @throws {Unprocessable} when the library cannot read the pixels
 */
function eachStrip(
  api: MagickApi,
  wand: Wand,
  map: "RGB" | "RGBA",
  visit: (samples: Uint16Array, y: number, rows: number) => boolean | void,
  cancel: CancelToken = neverCancelled,
): void {
  const width = Number(api.c.MagickGetImageWidth(wand));
  const height = Number(api.c.MagickGetImageHeight(wand));
  const rowsPerStrip = Math.max(1, Math.floor(STRIP_SAMPLES / (width * map.length)));
  const buffer = new Uint16Array(Math.min(rowsPerStrip, height) * width * map.length);
  for (let y = 0; y < height; y += rowsPerStrip) {
    cancel.check();
    const rows = Math.min(rowsPerStrip, height - y);
    const samples = buffer.subarray(0, rows * width * map.length);
    check(api, wand, api.exportRows(wand, y, rows, map, samples), "read the pixels");
    if (visit(samples, y, rows) === false) return;
  }
}

/**
 * Lets `change` rewrite the image's samples in place, strip by strip (see {@link eachStrip});
 * it is told which rows the strip holds. `cancel` is the job's, checked before each strip: a
 * rewrite of a large image runs for seconds in JavaScript that nothing else stops.
 *
 * @throws {Unprocessable} when the library cannot read or write the pixels
 */
export function rewritePixels(
  api: MagickApi,
  wand: Wand,
  map: "RGB" | "RGBA",
  change: (samples: Uint16Array, y: number, rows: number) => void,
  cancel: CancelToken,
): void {
  eachStrip(api, wand, map, (samples, y, rows) => {
    change(samples, y, rows);
    check(api, wand, api.importRows(wand, y, rows, map, samples), "write the pixels");
  }, cancel);
}

/** Whether any pixel is less than fully opaque (an alpha channel alone is not enough). */
export function hasTransparency(api: MagickApi, wand: Wand): boolean {
  if (!api.hasAlpha(wand)) return false;
  let found = false;
  eachStrip(api, wand, "RGBA", (samples) => {
    for (let i = 3; i < samples.length; i += 4) {
      if (samples[i] !== 0xffff) return !(found = true);
    }
  });
  return found;
}

/**
 * The current image as straight 8-bit RGBA in JavaScript memory (opaque when it has no alpha).
 *
 * @throws {Unprocessable} when the library cannot read the pixels
 */
export function exportBitmap(api: MagickApi, wand: Wand): Bitmap {
  const width = Number(api.c.MagickGetImageWidth(wand));
  const height = Number(api.c.MagickGetImageHeight(wand));
  const bitmap = createBitmap(width, height);
  // 8-bit samples straight from the library: it rounds each as a division by 257 would.
  check(api, wand, api.exportRows(wand, 0, height, "RGBA", bitmap.data), "read the pixels");
  return bitmap;
}
