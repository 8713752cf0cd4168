import { type Bitmap, createBitmap } from "./bitmap.ts";
import { type CancelToken, neverCancelled } from "./cancel.ts";

/**
 * Gives row `y` of an image in premultiplied form, as `width * 4` values: colour channels hold
 * value × alpha (0..65025) and the alpha channel holds alpha (0..255). Rows are asked for in a
 * window that only moves forward, so each stage computes a row once and keeps only a few.
 */
type Rows = (y: number) => Float32Array;

/** The Lanczos3 weights of one axis: output pixel i reads `count[i]` pixels from `start[i]`. */
interface Axis {
  size: number;
  taps: number;
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
}

/** Lanczos3 still has at least this ratio to do after the box pre-shrink, so nothing aliases. */
const MIN_LANCZOS_RATIO = 3;

/** The widest box pre-shrink: a block's sum of 255 × 255 per pixel must fit an Int32. */
const MAX_BLOCK = 181;

/**
 * Resizes a bitmap to exactly `width` x `height` with a separable Lanczos3 filter, widened when
 * shrinking so the result does not alias. Works on premultiplied alpha, so the colour of
 * transparent pixels never bleeds into visible ones; edges repeat the border pixels. The same
 * size gives a copy. `cancel` is checked for every row any stage computes.
 *
 * @throws {RangeError} when a dimension is not a positive integer, or the source is empty
 * @throws {Cancelled} when `cancel` is cancelled meanwhile
 * @example
 * ```ts
 * import { createBitmap } from "./bitmap.ts";
 * const small = resizeBitmap(createBitmap(4000, 3000), 400, 300);
 * ```
 */
export function resizeBitmap(
  src: Bitmap,
  width: number,
  height: number,
  cancel: CancelToken = neverCancelled,
): Bitmap {
  if (!isPositiveInteger(width) || !isPositiveInteger(height)) {
    throw new RangeError(`Cannot resize to "${width}x${height}": expected positive integers`);
  }
  if (src.width === 0 || src.height === 0) {
    throw new RangeError(`Cannot resize an empty image of ${src.width}x${src.height}`);
  }
  if (width === src.width && height === src.height) {
    return { width, height, data: src.data.slice() };
  }
  const scaleX = src.width / width;
  const scaleY = src.height / height;
  // A big shrink first averages exact k×k blocks: cheap, and leaves Lanczos a small job.
  const kx = blockSize(scaleX);
  const ky = blockSize(scaleY);
  const srcWidth = Math.ceil(src.width / kx);
  const srcHeight = Math.ceil(src.height / ky);
  const ax = axisWeights(srcWidth, width, scaleX / kx);
  const ay = axisWeights(srcHeight, height, scaleY / ky);
  const doX = width !== srcWidth;
  const doY = height !== srcHeight;

  // Both orders end with width x height; pick the one with fewer multiply-adds.
  const horizontalFirst = doX && (!doY ||
    width * srcHeight * ax.taps + width * height * ay.taps <=
      srcWidth * height * ay.taps + width * height * ax.taps);
  // An axis that keeps its size needs no pass; at least one axis changes size.
  let rows: Rows;
  if (horizontalFirst) {
    rows = horizontalRows(sourceRows(src, kx, ky, 1, cancel), ax, doY ? ay.taps : 1, cancel);
    if (doY) rows = verticalRows(rows, width, ay, cancel);
  } else {
    rows = verticalRows(sourceRows(src, kx, ky, ay.taps, cancel), srcWidth, ay, cancel);
    if (doX) rows = horizontalRows(rows, ax, 1, cancel);
  }
  return unpremultiply(rows, width, height);
}

function blockSize(scale: number): number {
  return clamp(Math.floor(scale / MIN_LANCZOS_RATIO), 1, MAX_BLOCK);
}

function isPositiveInteger(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return 3 * Math.sin(px) * Math.sin(px / 3) / (px * px);
}

/**
 * Builds the normalised weights that map `srcSize` pixels onto `size`, where one output pixel
 * spans `scale` input pixels. Taps beyond an edge are folded onto the edge pixel (clamping).
 */
function axisWeights(srcSize: number, size: number, scale: number): Axis {
  const stretch = Math.max(1, scale);
  const support = 3 * stretch;
  const taps = Math.min(srcSize, Math.ceil(2 * support) + 1);
  const start = new Int32Array(size);
  const count = new Int32Array(size);
  const weights = new Float32Array(size * taps);
  const w = new Float64Array(taps);
  for (let i = 0; i < size; i++) {
    // Pixel centres line up: output centre i + 0.5 sits at input coordinate (i + 0.5) * scale.
    const center = (i + 0.5) * scale - 0.5;
    const lo = Math.ceil(center - support);
    const hi = Math.floor(center + support);
    const first = clamp(lo, 0, srcSize - 1);
    const last = clamp(hi, 0, srcSize - 1);
    w.fill(0);
    let sum = 0;
    for (let j = lo; j <= hi; j++) {
      const weight = lanczos3((j - center) / stretch);
      w[clamp(j, 0, srcSize - 1) - first] += weight;
      sum += weight;
    }
    start[i] = first;
    count[i] = last - first + 1;
    for (let k = 0; k < count[i]; k++) weights[i * taps + k] = w[k] / sum;
  }
  return { size, taps, start, count, weights };
}

function clamp(n: number, lo: number, hi: number): number {
  return n < lo ? lo : n > hi ? hi : n;
}

/**
 * Keeps the last `slots` rows that `fill` computed. Enough slots for the widest window a
 * consumer asks for means no row is computed twice. Every stage computes its rows here, so
 * this is where a cancelled resize stops.
 */
function ringRows(
  width: number,
  slots: number,
  cancel: CancelToken,
  fill: (y: number, row: Float32Array) => void,
): Rows {
  const stride = width * 4;
  const ring = new Float32Array(stride * slots);
  const views = Array.from(
    { length: slots },
    (_, i) => ring.subarray(i * stride, i * stride + stride),
  );
  const held = new Int32Array(slots).fill(-1);
  return (y) => {
    const slot = y % slots;
    if (held[slot] !== y) {
      cancel.check();
      fill(y, views[slot]);
      held[slot] = y;
    }
    return views[slot];
  };
}

/** Premultiplied rows of `src`, each pixel the exact average of a kx×ky block (partial at edges). */
function sourceRows(
  src: Bitmap,
  kx: number,
  ky: number,
  slots: number,
  cancel: CancelToken,
): Rows {
  const { width: sw, height: sh, data: s } = src;
  if (kx === 1 && ky === 1) {
    return ringRows(sw, slots, cancel, (y, row) => {
      for (let x = 0, p = y * sw * 4; x < row.length; x += 4, p += 4) {
        const a = s[p + 3];
        row[x] = s[p] * a;
        row[x + 1] = s[p + 1] * a;
        row[x + 2] = s[p + 2] * a;
        row[x + 3] = a;
      }
    });
  }
  const width = Math.ceil(sw / kx);
  // Integer sums are exact and much faster than float read-modify-writes.
  const sums = new Int32Array(width * 4);
  return ringRows(width, slots, cancel, (y, row) => {
    sums.fill(0);
    const lastRow = Math.min(sh, (y + 1) * ky);
    for (let sy = y * ky; sy < lastRow; sy++) {
      for (let p = sy * sw * 4, end = p + sw * 4, q = 0, n = 0; p < end; p += 4) {
        const a = s[p + 3];
        sums[q] += s[p] * a;
        sums[q + 1] += s[p + 1] * a;
        sums[q + 2] += s[p + 2] * a;
        sums[q + 3] += a;
        if (++n === kx) {
          n = 0;
          q += 4;
        }
      }
    }
    const rows = lastRow - y * ky;
    for (let x = 0, q = 0; x < width; x++, q += 4) {
      const inv = 1 / (rows * Math.min(kx, sw - x * kx));
      row[q] = sums[q] * inv;
      row[q + 1] = sums[q + 1] * inv;
      row[q + 2] = sums[q + 2] * inv;
      row[q + 3] = sums[q + 3] * inv;
    }
  });
}

function horizontalRows(rows: Rows, axis: Axis, slots: number, cancel: CancelToken): Rows {
  const { size, taps, start, count, weights } = axis;
  return ringRows(size, slots, cancel, (y, out) => {
    const row = rows(y);
    for (let i = 0, o = 0; i < size; i++, o += 4) {
      let r = 0, g = 0, b = 0, a = 0;
      let wi = i * taps;
      for (let p = start[i] * 4, end = p + count[i] * 4; p < end; p += 4) {
        const w = weights[wi++];
        r += w * row[p];
        g += w * row[p + 1];
        b += w * row[p + 2];
        a += w * row[p + 3];
      }
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
      out[o + 3] = a;
    }
  });
}

function verticalRows(rows: Rows, width: number, axis: Axis, cancel: CancelToken): Rows {
  const { taps, start, count, weights } = axis;
  const stride = width * 4;
  return ringRows(width, 1, cancel, (y, out) => {
    out.fill(0);
    for (let k = 0; k < count[y]; k++) {
      const w = weights[y * taps + k];
      const row = rows(start[y] + k);
      for (let x = 0; x < stride; x++) out[x] += w * row[x];
    }
  });
}

/** Divides colour by alpha; pixels that end up fully transparent stay 0,0,0,0. */
function unpremultiply(rows: Rows, width: number, height: number): Bitmap {
  const out = createBitmap(width, height);
  // A clamped view rounds and clamps to 0..255 on store.
  const px = new Uint8ClampedArray(out.data.buffer, out.data.byteOffset, out.data.length);
  for (let y = 0, p = 0; y < height; y++) {
    const row = rows(y);
    for (let x = 0; x < row.length; x += 4, p += 4) {
      const a = row[x + 3];
      if (!(a > 0.5)) continue;
      px[p] = row[x] / a;
      px[p + 1] = row[x + 1] / a;
      px[p + 2] = row[x + 2] / a;
      px[p + 3] = a;
    }
  }
  return out;
}
