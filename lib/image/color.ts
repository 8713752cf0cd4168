/**
 * An affine colour transform, row by row: R' = m0·R + m1·G + m2·B + m3·MAX, then G' from
 * m4..m7 and B' from m8..m11, where MAX is the full-scale sample (255 for 8 bits, 65535 for
 * 16), so one matrix means the same at any depth. Alpha is never touched.
 */
export type ColorMatrix = readonly [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

/** A straight (not premultiplied) 8-bit colour: red, green, blue, alpha. */
export type Rgba = readonly [number, number, number, number];

/** `RRGGBB` or `RRGGBBAA` (any case) as RGBA; undefined when malformed. */
export function parseHexColor(text: string): Rgba | undefined {
  if (!/^([0-9a-f]{6}|[0-9a-f]{8})$/i.test(text)) return undefined;
  const value = (i: number) => parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return [value(0), value(1), value(2), text.length === 8 ? value(3) : 255];
}

/** Luma weights (Rec. 601), as the grayscale filter uses. */
export const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * Applies `matrix` in place to interleaved samples with `channels` per pixel (3 for RGB, 4 for
 * RGBA), each result rounded to the nearest integer and clamped to 0..max. Every backend calls
 * this one function, on 8-bit samples or on the 16-bit samples a library exports, so they agree.
 */
export function transformSamples(
  samples: Uint8Array | Uint16Array,
  channels: 3 | 4,
  max: number,
  matrix: ColorMatrix,
): void {
  const [r0, r1, r2, r3, g0, g1, g2, g3, b0, b1, b2, b3] = matrix;
  const clamp = (value: number) => Math.min(max, Math.max(0, Math.round(value)));
  for (let i = 0; i < samples.length; i += channels) {
    const r = samples[i];
    const g = samples[i + 1];
    const b = samples[i + 2];
    samples[i] = clamp(r0 * r + r1 * g + r2 * b + r3 * max);
    samples[i + 1] = clamp(g0 * r + g1 * g + g2 * b + g3 * max);
    samples[i + 2] = clamp(b0 * r + b1 * g + b2 * b + b3 * max);
  }
}
