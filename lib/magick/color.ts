import type { MagickApi, Wand } from "./api.ts";
import type { CancelToken } from "../image/cancel.ts";
import { type ColorMatrix, transformSamples } from "../image/color.ts";
import { rewritePixels } from "./pixels.ts";

/**
 * Applies a colour matrix to the current image through its exported 16-bit samples, with the
 * pure backend's own per-pixel function: the libraries' modulate and brightness-contrast work
 * in HSL or with other curves, and GraphicsMagick has no colour matrix, so none of them would
 * give the documented formulas. `cancel` is checked between strips.
 *
 * @throws {Unprocessable} when the library cannot read or write the pixels
 */
export function transformWandColors(
  api: MagickApi,
  wand: Wand,
  matrix: ColorMatrix,
  cancel: CancelToken,
): void {
  const map = api.hasAlpha(wand) ? "RGBA" : "RGB";
  rewritePixels(
    api,
    wand,
    map,
    (samples) => transformSamples(samples, map === "RGBA" ? 4 : 3, 65535, matrix),
    cancel,
  );
}
