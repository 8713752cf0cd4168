import type { MagickApi, Wand } from "./api.ts";
import { check } from "./exception.ts";

/** Samples per strip: pixels pass through JavaScript a strip of rows at a time (2 MiB). */
const STRIP_SAMPLES = 1 << 20;

/**
 * Reads the whole image as 16-bit samples in `map` order ("RGB" or "RGBA"), lets `change`
 * rewrite them in place, and writes them back, one strip of rows at a time so a large image
 * never needs a second full copy in JavaScript memory.
 *
 * @throws {Unprocessable} when the library cannot read or write the pixels
 */
export function rewritePixels(
  api: MagickApi,
  wand: Wand,
  map: "RGB" | "RGBA",
  change: (samples: Uint16Array) => void,
): void {
  const width = Number(api.c.MagickGetImageWidth(wand));
  const height = Number(api.c.MagickGetImageHeight(wand));
  const rowsPerStrip = Math.max(1, Math.floor(STRIP_SAMPLES / (width * map.length)));
  const buffer = new Uint16Array(Math.min(rowsPerStrip, height) * width * map.length);
  for (let y = 0; y < height; y += rowsPerStrip) {
    const rows = Math.min(rowsPerStrip, height - y);
    const samples = buffer.subarray(0, rows * width * map.length);
    check(api, wand, api.exportRows(wand, y, rows, map, samples), "read the pixels");
    change(samples);
    check(api, wand, api.importRows(wand, y, rows, map, samples), "write the pixels");
  }
}
