import { type Bitmap, createBitmap, type Rect } from "../image/bitmap.ts";
import { gaussianBlur } from "../image/blur.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { Rgba } from "../image/color.ts";

// Geometric operations move whole 32-bit pixels, so they work on a Uint32Array view.
function pixels(bitmap: Bitmap): Uint32Array {
  return new Uint32Array(bitmap.data.buffer, bitmap.data.byteOffset, bitmap.width * bitmap.height);
}

/** Copies `rect`, which lies inside the bitmap. */
export function cropBitmap(src: Bitmap, rect: Rect): Bitmap {
  const out = createBitmap(rect.width, rect.height);
  const rowBytes = rect.width * 4;
  for (let y = 0; y < rect.height; y++) {
    const start = ((rect.y + y) * src.width + rect.x) * 4;
    out.data.set(src.data.subarray(start, start + rowBytes), y * rowBytes);
  }
  return out;
}

/** Mirrors left/right (`h`) or upside down (`v`). */
export function flipBitmap(src: Bitmap, axis: "h" | "v"): Bitmap {
  const { width, height } = src;
  const out = createBitmap(width, height);
  const from = pixels(src);
  const to = pixels(out);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    if (axis === "v") {
      to.set(from.subarray(row, row + width), (height - 1 - y) * width);
    } else {
      for (let x = 0; x < width; x++) to[row + width - 1 - x] = from[row + x];
    }
  }
  return out;
}

/** Rotates counter-clockwise by 90, 180 or 270 degrees. */
export function rotateBitmap(src: Bitmap, degrees: 90 | 180 | 270): Bitmap {
  const { width, height } = src;
  const turned = degrees !== 180;
  const out = createBitmap(turned ? height : width, turned ? width : height);
  const from = pixels(src);
  const to = pixels(out);
  const outWidth = out.width;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Where source pixel (x, y) lands, counter-clockwise.
      const index = degrees === 90
        ? (width - 1 - x) * outWidth + y
        : degrees === 180
        ? (height - 1 - y) * outWidth + (width - 1 - x)
        : x * outWidth + (height - 1 - y);
      to[index] = from[y * width + x];
    }
  }
  return out;
}

/** Writes luma 0.299R + 0.587G + 0.114B into R, G and B; alpha is kept. */
export function grayscaleBitmap(src: Bitmap): Bitmap {
  const out = createBitmap(src.width, src.height);
  const from = src.data;
  const to = out.data;
  for (let i = 0; i < from.length; i += 4) {
    const luma = Math.round(0.299 * from[i] + 0.587 * from[i + 1] + 0.114 * from[i + 2]);
    to[i] = to[i + 1] = to[i + 2] = luma;
    to[i + 3] = from[i + 3];
  }
  return out;
}

/**
 * Blends onto an opaque `background` (default white), for formats without alpha: a
 * transparent pixel becomes the background.
 */
export function flattenBitmap(src: Bitmap, background: Rgba = [255, 255, 255, 255]): Bitmap {
  const out = createBitmap(src.width, src.height);
  const from = src.data;
  const to = out.data;
  for (let i = 0; i < from.length; i += 4) {
    const alpha = from[i + 3];
    const rest = 255 - alpha;
    for (let c = 0; c < 3; c++) {
      to[i + c] = Math.round((from[i + c] * alpha + background[c] * rest) / 255);
    }
    to[i + 3] = 255;
  }
  return out;
}

/**
 * Unsharp mask of amount 1: C' = C + (C − blurred), on R, G and B; alpha is kept. `cancel` is
 * checked by the blur, which is nearly all of the work.
 */
export function sharpenBitmap(
  src: Bitmap,
  sigma: number,
  cancel: CancelToken = neverCancelled,
): Bitmap {
  const blurred = gaussianBlur(src, sigma, cancel).data;
  const from = src.data;
  const out = createBitmap(src.width, src.height);
  const to = out.data;
  for (let i = 0; i < from.length; i += 4) {
    for (let c = i; c < i + 3; c++) to[c] = Math.min(255, Math.max(0, 2 * from[c] - blurred[c]));
    to[i + 3] = from[i + 3];
  }
  return out;
}

/** A `size` bitmap of `color` with `src` copied in at `at`. */
export function extendBitmap(
  src: Bitmap,
  size: { width: number; height: number },
  at: { x: number; y: number },
  color: Rgba,
): Bitmap {
  const out = createBitmap(size.width, size.height);
  const fill = new Uint8Array(color);
  pixels(out).fill(new Uint32Array(fill.buffer)[0]);
  const rowBytes = src.width * 4;
  for (let y = 0; y < src.height; y++) {
    const start = ((at.y + y) * size.width + at.x) * 4;
    out.data.set(src.data.subarray(y * rowBytes, (y + 1) * rowBytes), start);
  }
  return out;
}
