import { type Bitmap, createBitmap } from "./bitmap.ts";
import { type CancelToken, neverCancelled } from "./cancel.ts";
import { resampleKernels } from "./resample_kernels.ts";

/**
 * Gives row `y` of an image in premultiplied form, as `width * 4` values: colour channels hold
 * value × alpha (0..65025) and the alpha channel holds alpha (0..255). Rows are asked for in a
 * window that only moves forward, so each stage computes a row once and keeps only a few. Each
 * row lives in the kernels' memory, where its `byteOffset` is its address.
 */
type Rows = (y: number) => Float32Array;

/** The exports of resample_kernels.wat: its SIMD inner loops, on addresses in `memory`. */
interface KernelExports {
  memory: WebAssembly.Memory;
  premultiply(src: number, dst: number, pixels: number): void;
  horizontal(
    src: number,
    dst: number,
    size: number,
    taps: number,
    start: number,
    count: number,
    weights: number,
  ): void;
  scale(dst: number, src: number, weight: number, pixels: number): void;
  addScaled(dst: number, src: number, weight: number, pixels: number): void;
  addScaled2(
    dst: number,
    src: number,
    weight: number,
    src2: number,
    weight2: number,
    pixels: number,
  ): void;
  unpremultiply(src: number, dst: number, pixels: number): void;
}

const WASM_PAGE = 65536;
let kernelModule: WebAssembly.Module | undefined;

/**
 * One resize's instance of the kernels and its memory, handed out front to back. Every block
 * is taken before the first row is computed: growing the memory would detach the views made
 * on it, so views are made only after the last `alloc`.
 */
class Kernels {
  readonly run: KernelExports;
  #used = 0;

  constructor() {
    kernelModule ??= new WebAssembly.Module(resampleKernels);
    this.run = new WebAssembly.Instance(kernelModule).exports as unknown as KernelExports;
  }

  /** The address of `bytes` more bytes, 16-byte aligned. */
  alloc(bytes: number): number {
    const at = this.#used;
    this.#used += Math.ceil(bytes / 16) * 16;
    const { memory } = this.run;
    const missing = this.#used - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / WASM_PAGE));
    return at;
  }

  /** Copies `values` into the memory; answers their address. */
  place(values: Int32Array | Float32Array): number {
    const at = this.alloc(values.byteLength);
    new Uint8Array(this.run.memory.buffer, at, values.byteLength).set(
      new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    );
    return at;
  }

  f32(at: number, length: number): Float32Array {
    return new Float32Array(this.run.memory.buffer, at, length);
  }

  u8(at: number, length: number): Uint8Array {
    return new Uint8Array(this.run.memory.buffer, at, length);
  }
}

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
 * An image read one row at a time, as straight (not premultiplied) 8-bit RGBA: `read` answers
 * row `y` (`width * 4` bytes), either `into` filled with it or a view of its own, valid until
 * the next call. Rows are asked for in an order that only moves forward, so a source can hand
 * them over a strip at a time from wherever its pixels live.
 */
export interface RowSource {
  width: number;
  height: number;
  read(y: number, into: Uint8Array): Uint8Array;
}

/** A bitmap's rows, as a {@link RowSource}. */
export function bitmapRows(bitmap: Bitmap): RowSource {
  const stride = bitmap.width * 4;
  return {
    width: bitmap.width,
    height: bitmap.height,
    read: (y) => bitmap.data.subarray(y * stride, (y + 1) * stride),
  };
}

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
  return resizeRows(bitmapRows(src), width, height, cancel);
}

/**
 * {@link resizeBitmap} of an image read row by row: only the rows the filter's window spans
 * are held, besides the result.
 */
export function resizeRows(
  src: RowSource,
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
  if (width === src.width && height === src.height) return copyRows(src, cancel);
  const scaleX = src.width / width;
  const scaleY = src.height / height;
  // A big shrink first averages exact k×k blocks: cheap, and leaves Lanczos a small job.
  const kx = blockSize(scaleX);
  const ky = blockSize(scaleY);
  const srcWidth = Math.ceil(src.width / kx);
  const srcHeight = Math.ceil(src.height / ky);
  const ax = axisOf(srcWidth, width, scaleX / kx);
  const ay = axisOf(srcHeight, height, scaleY / ky);
  const doX = width !== srcWidth;
  const doY = height !== srcHeight;

  // Both orders end with width x height; pick the one with fewer multiply-adds.
  const horizontalFirst = doX && (!doY ||
    width * srcHeight * ax.taps + width * height * ay.taps <=
      srcWidth * height * ay.taps + width * height * ax.taps);
  // An axis that keeps its size needs no pass; at least one axis changes size.
  const kernels = new Kernels();
  let rows: Rows;
  if (horizontalFirst) {
    rows = sourceRows(kernels, src, kx, ky, 1, cancel);
    rows = horizontalRows(kernels, rows, ax, doY ? ay.taps : 1, cancel);
    if (doY) rows = verticalRows(kernels, rows, width, ay, cancel);
  } else {
    rows = sourceRows(kernels, src, kx, ky, ay.taps, cancel);
    rows = verticalRows(kernels, rows, srcWidth, ay, cancel);
    if (doX) rows = horizontalRows(kernels, rows, ax, 1, cancel);
  }
  return unpremultiply(kernels, rows, width, height);
}

/** The rows as a bitmap of their own. */
function copyRows(src: RowSource, cancel: CancelToken): Bitmap {
  const out = createBitmap(src.width, src.height);
  const stride = src.width * 4;
  for (let y = 0; y < src.height; y++) {
    cancel.check();
    const into = out.data.subarray(y * stride, (y + 1) * stride);
    const row = src.read(y, into);
    if (row !== into) into.set(row);
  }
  return out;
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
  // sin(px) from sin(px / 3) by the triple-angle formula: one sine a tap instead of two (the
  // weights' sines were a tenth of a small resize's time).
  const third = Math.sin(px / 3);
  return 3 * (3 * third - 4 * third ** 3) * third / (px * px);
}

/**
 * Axes made lately, by source size, size and scale: a server resizes to the same few sizes over
 * and over, and an axis's weights (a sine a tap) were a tenth of a 512x512 to 400x400 resize.
 * Only axes of up to `CACHED_AXIS_WEIGHTS` weights are kept, the last `CACHED_AXES` (~2 MiB).
 */
const recentAxes = new Map<string, Axis>();
const CACHED_AXES = 16;
const CACHED_AXIS_WEIGHTS = 1 << 15;

function axisOf(srcSize: number, size: number, scale: number): Axis {
  const key = `${srcSize} ${size} ${scale}`;
  const known = recentAxes.get(key);
  if (known) return known;
  const axis = axisWeights(srcSize, size, scale);
  if (axis.weights.length <= CACHED_AXIS_WEIGHTS) {
    if (recentAxes.size >= CACHED_AXES) recentAxes.delete(recentAxes.keys().next().value!);
    recentAxes.set(key, axis);
  }
  return axis;
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
  kernels: Kernels,
  width: number,
  slots: number,
  cancel: CancelToken,
  fill: (y: number, row: Float32Array) => void,
): Rows {
  const stride = width * 4;
  const ring = kernels.alloc(stride * slots * 4);
  let views: Float32Array[] | undefined;
  const held = new Int32Array(slots).fill(-1);
  return (y) => {
    // Made at the first row, once every stage has taken its memory.
    views ??= Array.from({ length: slots }, (_, i) => kernels.f32(ring + i * stride * 4, stride));
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
  kernels: Kernels,
  src: RowSource,
  kx: number,
  ky: number,
  slots: number,
  cancel: CancelToken,
): Rows {
  const { width: sw, height: sh } = src;
  const staged = kernels.alloc(sw * 4);
  if (kx === 1 && ky === 1) {
    return ringRows(kernels, sw, slots, cancel, (y, row) => {
      const into = kernels.u8(staged, sw * 4);
      const read = src.read(y, into);
      if (read !== into) into.set(read);
      kernels.run.premultiply(staged, row.byteOffset, sw);
    });
  }
  const width = Math.ceil(sw / kx);
  // Integer sums are exact and much faster than float read-modify-writes.
  const sums = new Int32Array(width * 4);
  return ringRows(kernels, width, slots, cancel, (y, row) => {
    sums.fill(0);
    const into = kernels.u8(staged, sw * 4);
    const lastRow = Math.min(sh, (y + 1) * ky);
    for (let sy = y * ky; sy < lastRow; sy++) {
      const s = src.read(sy, into);
      for (let p = 0, end = sw * 4, q = 0, n = 0; p < end; p += 4) {
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

function horizontalRows(
  kernels: Kernels,
  rows: Rows,
  axis: Axis,
  slots: number,
  cancel: CancelToken,
): Rows {
  const { size, taps } = axis;
  const start = kernels.place(axis.start);
  const count = kernels.place(axis.count);
  const weights = kernels.place(axis.weights);
  return ringRows(kernels, size, slots, cancel, (y, out) => {
    const row = rows(y);
    kernels.run.horizontal(row.byteOffset, out.byteOffset, size, taps, start, count, weights);
  });
}

function verticalRows(
  kernels: Kernels,
  rows: Rows,
  width: number,
  axis: Axis,
  cancel: CancelToken,
): Rows {
  const { taps, start, count, weights } = axis;
  return ringRows(kernels, width, 1, cancel, (y, out) => {
    const first = y * taps;
    const { run } = kernels;
    run.scale(out.byteOffset, rows(start[y]).byteOffset, weights[first], width);
    let k = 1;
    for (; k + 1 < count[y]; k += 2) {
      const row = rows(start[y] + k).byteOffset;
      const next = rows(start[y] + k + 1).byteOffset;
      run.addScaled2(out.byteOffset, row, weights[first + k], next, weights[first + k + 1], width);
    }
    if (k < count[y]) {
      run.addScaled(out.byteOffset, rows(start[y] + k).byteOffset, weights[first + k], width);
    }
  });
}

/** Divides colour by alpha; pixels that end up fully transparent stay 0,0,0,0. */
function unpremultiply(kernels: Kernels, rows: Rows, width: number, height: number): Bitmap {
  const out = createBitmap(width, height);
  const stride = width * 4;
  const staged = kernels.alloc(stride);
  for (let y = 0; y < height; y++) {
    kernels.run.unpremultiply(rows(y).byteOffset, staged, width);
    out.data.set(kernels.u8(staged, stride), y * stride);
  }
  return out;
}
