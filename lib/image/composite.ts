import type { Bitmap } from "./bitmap.ts";

/**
 * Draws `overlay` (8-bit straight RGBA) over rows `y .. y + rows` of an image held as
 * interleaved samples (`channels` 3 or 4 per pixel, full scale `max`: 255 or 65535), the
 * overlay's top-left corner at `at` in image pixels, its alpha multiplied by `opacity`.
 * Source-over on straight alpha: A = a + A₀(1 − a), C = (c·a + C₀·A₀(1 − a)) / A, rounded;
 * an image without alpha (3 channels) counts as opaque. Overlay pixels outside the image are
 * dropped. Every backend blends with this one function.
 */
export function blendOver(
  samples: Uint8Array | Uint16Array,
  channels: 3 | 4,
  max: number,
  image: { width: number; y: number; rows: number },
  overlay: Bitmap,
  at: { x: number; y: number },
  opacity: number,
): void {
  const scale = max / 255;
  const top = Math.max(image.y, at.y);
  const bottom = Math.min(image.y + image.rows, at.y + overlay.height);
  const left = Math.max(0, at.x);
  const right = Math.min(image.width, at.x + overlay.width);
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const o = ((y - at.y) * overlay.width + (x - at.x)) * 4;
      const a = (overlay.data[o + 3] / 255) * opacity;
      if (a === 0) continue;
      const d = ((y - image.y) * image.width + x) * channels;
      const below = channels === 4 ? samples[d + 3] / max : 1;
      const keep = below * (1 - a);
      const alpha = a + keep;
      for (let c = 0; c < 3; c++) {
        const value = (overlay.data[o + c] * scale * a + samples[d + c] * keep) / alpha;
        samples[d + c] = Math.min(max, Math.round(value));
      }
      if (channels === 4) samples[d + 3] = Math.min(max, Math.round(alpha * max));
    }
  }
}
