/**
 * At which scale each backend decodes a JPEG for a decode hint: the one answer the backends'
 * decoders act on and planning counts, so the memory a job plans for is the memory its decode
 * takes. Every JPEG decoder here scales by eighths (the DCT's block size), each with its own
 * rule for which eighth it picks; `tests/jpeg_scale_test.ts` checks each rule against the real
 * decoder on both sides of every step.
 *
 * @module
 */
import type { DecodeHint, ShrinkOnLoad } from "./backend.ts";
import type { Size } from "./bitmap.ts";

/** What a backend does with a hint for a JPEG. */
export interface JpegScale {
  /**
   * The size the decoder is asked to cover (pure's and the magick libraries' size hint): the
   * hint times the backend's margin under the policy, never more than the stored size (asked
   * for more, libjpeg scales up). vips is not asked: sharp decides from the resize's target.
   */
  asked: Size;
  /** The size the decoder returns. */
  decoded: Size;
}

/**
 * How much larger than the hint a scaled JPEG decode stays under each `image.shrinkOnLoad`
 * policy, so the Lanczos resize that follows still has pixels to average. Every backend now
 * uses the same margins:
 *
 * - pure: libjpeg-turbo's scaled decode (WebAssembly) scores as libvips' at the largest reduction
 *   that covers the target (Garden 2560x1600 → 512: 51.4 dB against a full decode, libvips 49.8;
 *   W1 0.04 dB below ipx), so `fast` reads there as the other backends do; `quality` keeps 2×.
 *   (ImageScript's decoder, before, had no smooth chroma upsampling at its reduced scales and
 *   needed 1.5× under `fast`.)
 * - imagemagick, graphicsmagick: `fast` asks for the hint itself (libjpeg then picks the
 *   largest reduction that covers it); `quality` asks for twice the hint. On a zone plate,
 *   4000x3000 to 400x300, `quality` halves the error against a full decode.
 * - vips: sharp's own factor (`fastShrinkOnLoad`), which leaves 2× under `quality`.
 *
 * Measurements: docs/performance.md, bench/shrink_on_load.ts.
 */
const MARGINS: Readonly<Record<ShrinkOnLoad, number>> = { fast: 1, quality: 2 };

/** `size` scaled by `eighths`/8, each side rounded up, as libjpeg and jpeg-decoder round. */
const inEighths = (size: Size, eighths: number): Size => ({
  width: Math.ceil((size.width * eighths) / 8),
  height: Math.ceil((size.height * eighths) / 8),
});

/**
 * The rule of each backend's decoder, from the stored size and what it is asked (or, for vips,
 * the resize's target and the policy's margin).
 */
const RULES: Readonly<Record<string, (stored: Size, asked: Size, margin: number) => Size>> = {
  // libjpeg-turbo through TurboJPEG (lib/pure/jpeg_turbo.ts): the smallest of 1/8, 1/4 and 1/2
  // whose exact width AND height reach what was asked, as the libraries' ratio rule does, else
  // the full size. Not the rounded-up size: 60x40 read at 1/8 for 8x5 is 8 blocks whose last
  // holds 4 columns, not 7.5, and came out 9 levels off the libraries (24 at the edge). A CMYK
  // JPEG goes through ImageScript's decoder, asked for that same size.
  pure(stored, asked) {
    for (const eighths of [1, 2, 4]) {
      const reaches = stored.width * eighths >= asked.width * 8 &&
        stored.height * eighths >= asked.height * 8;
      if (reaches) return inEighths(stored, eighths);
    }
    return stored;
  },
  // Both libraries' JPEG readers: scale_denom = ⌊min(W/w, H/h)⌋ with scale_num 1, and
  // libjpeg-turbo then decodes at k/8 for the smallest k with 8 ≤ denom·k: so 1, 1/2, 3/8
  // (ImageMagick and GraphicsMagick alike, from a denominator of 3), 1/4 or 1/8.
  imagemagick: libjpegRule,
  graphicsmagick: libjpegRule,
  // sharp 0.35 (pipeline.cc): the shrink s = min(W/w, H/h) of the first resize, which reads the
  // source; decoded at 1/8, 1/4 or 1/2 when s reaches 8, 4 or 2 times the factor (1, or 2
  // under `quality`), one step less when ⌊s⌋ is that reduction exactly (libjpeg's rounding).
  // libvips keeps ⌊W/r⌋ x ⌊H/r⌋ of libjpeg's rounded-up scanlines.
  vips(stored, target, margin) {
    const shrink = Math.min(stored.width / target.width, stored.height / target.height);
    const factor = margin >= 2 ? 2 : 1;
    let reduction = [8, 4, 2].find((r) => shrink >= r * factor) ?? 1;
    if (reduction > 1 && Math.trunc(shrink) === reduction) reduction /= 2;
    return {
      width: Math.floor(stored.width / reduction),
      height: Math.floor(stored.height / reduction),
    };
  },
};

function libjpegRule(stored: Size, asked: Size): Size {
  const denominator = Math.floor(
    Math.min(stored.width / asked.width, stored.height / asked.height),
  );
  return inEighths(stored, Math.ceil(8 / Math.max(1, denominator)));
}

/**
 * How `backend` decodes a JPEG stored at `stored` for `hint`, under the hint's policy (`fast`
 * when absent) and its margin when it gives one (`info`'s 1; sharp has only the policy). A
 * backend with no rule here is planned at the full size: an upper bound.
 */
export function jpegScale(backend: string, stored: Size, hint: DecodeHint): JpegScale {
  const rule = RULES[backend];
  if (!rule) return { asked: stored, decoded: stored };
  const policyMargin = MARGINS[hint.shrinkOnLoad ?? "fast"];
  const margin = backend === "vips" ? policyMargin : hint.margin ?? policyMargin;
  const asked = {
    width: Math.min(Math.ceil(hint.minSize.width * margin), stored.width),
    height: Math.min(Math.ceil(hint.minSize.height * margin), stored.height),
  };
  return { asked, decoded: rule(stored, backend === "vips" ? hint.minSize : asked, margin) };
}
