import type { CancelToken } from "../image/cancel.ts";
import type { MagickApi, Wand } from "./api.ts";
import { rewritePixels } from "./pixels.ts";

/**
 * Sets R = G = B = 0.299R + 0.587G + 0.114B and keeps alpha. The libraries' own grey
 * conversions use other weights or other colour spaces (and GraphicsMagick has no colour
 * matrix), so the pixels are rewritten here, in 16-bit samples to keep Q16 precision.
 *
 * @throws {Unprocessable} when the library cannot read or write the pixels
 */
export function grayscaleWand(api: MagickApi, wand: Wand, cancel: CancelToken): void {
  const map = api.hasAlpha(wand) ? "RGBA" : "RGB";
  const step = map.length;
  rewritePixels(api, wand, map, (samples) => {
    for (let i = 0; i < samples.length; i += step) {
      const luma = 0.299 * samples[i] + 0.587 * samples[i + 1] + 0.114 * samples[i + 2];
      samples[i] = samples[i + 1] = samples[i + 2] = Math.round(luma);
    }
  }, cancel);
}
