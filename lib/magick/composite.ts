import type { Bitmap } from "../image/bitmap.ts";
import { blendOver } from "../image/composite.ts";
import type { MagickApi, Wand } from "./api.ts";
import { check } from "./exception.ts";
import { STRIP_SAMPLES } from "./pixels.ts";

/**
 * Draws `overlay` over the current image with the pure backend's own blend, on the 16-bit
 * samples of the rows it covers. The libraries' Over composite needs the overlay as a wand
 * (GraphicsMagick cannot make one from pixels) and an opacity each applies its own way; this
 * gives the same pixels on every backend.
 *
 * @throws {Unprocessable} when the library cannot read or write the pixels
 */
export function compositeWand(
  api: MagickApi,
  wand: Wand,
  overlay: Bitmap,
  at: { x: number; y: number },
  opacity: number,
): void {
  const width = Number(api.c.MagickGetImageWidth(wand));
  const height = Number(api.c.MagickGetImageHeight(wand));
  const map = api.hasAlpha(wand) ? "RGBA" : "RGB";
  const channels = map === "RGBA" ? 4 : 3;
  const top = Math.max(0, at.y);
  const bottom = Math.min(height, at.y + overlay.height);
  const rowsPerStrip = Math.max(1, Math.floor(STRIP_SAMPLES / (width * channels)));
  const buffer = new Uint16Array(
    Math.min(rowsPerStrip, Math.max(0, bottom - top)) * width * channels,
  );
  for (let y = top; y < bottom; y += rowsPerStrip) {
    const rows = Math.min(rowsPerStrip, bottom - y);
    const samples = buffer.subarray(0, rows * width * channels);
    check(api, wand, api.exportRows(wand, y, rows, map, samples), "read the pixels");
    blendOver(samples, channels, 65535, { width, y, rows }, overlay, at, opacity);
    check(api, wand, api.importRows(wand, y, rows, map, samples), "write the pixels");
  }
}
