import { type Bitmap, createBitmap, type Size } from "./bitmap.ts";
import { type CancelToken, neverCancelled } from "./cancel.ts";

/**
 * How far past the border, in sigmas, a blur repeats the edge pixels where the library does not
 * (GraphicsMagick blurs a copy framed that wide). The Gaussian's weight beyond 3 sigma is 0.13 %:
 * under half a level even where black meets white at the border.
 */
export const EDGE_SIGMAS = 3;

/**
 * The scratch image a blur of `sigma` makes of a `size` image: the image framed by its repeated
 * edges on the backend that needs the frame, so planning counts it on every backend alike.
 */
export function blurScratch(size: Size, sigma: number): Size {
  const pad = Math.ceil(EDGE_SIGMAS * sigma);
  return { width: size.width + 2 * pad, height: size.height + 2 * pad };
}

/**
 * How many plain passes over the pixels a blur of `sigma` costs (see `Filter.passes`): the kernel
 * widens with sigma. Measured on vips (a 1000x1000 photo to JPEG, in one thread): the whole job
 * takes 19–23 ms at `b,2`, 22–38 at `b,10`, 38–53 at `b,20`, 132–182 at `b,50`.
 */
export function blurPasses(sigma: number): number {
  return 1 + sigma / 10;
}

/**
 * A fourth-order recursive approximation of a Gaussian: the causal pass computes
 * w[n] = b·x[n] + a1·w[n-1] + a2·w[n-2] + a3·w[n-3] + a4·w[n-4], then the same recursion runs
 * backwards over w.
 */
interface Recursion {
  b: number;
  a1: number;
  a2: number;
  a3: number;
  a4: number;
  /** The modulus of the pole that decays slowest. */
  slowest: number;
}

/**
 * The poles of van Vliet, Young and Verbeek (1998) for sigma 2, one of each conjugate pair.
 * Raising them to 1/q scales the response; q is solved for so the variance is exactly sigma².
 */
const POLES = [{ re: 1.13228, im: 1.28114 }, { re: 1.78534, im: 0.46763 }];

/** Columns filtered side by side: wide rows read from memory in long runs. */
const STRIP = 64;

/** Beyond this the recursion loses precision (and the image is a wash of its edges anyway). */
const MAX_SIGMA = 1000;

/** Between the passes, values of 0..255 are kept as 16-bit fixed point with 8 fraction bits. */
const MID_SCALE = 256;

/** Samples of padding before and after each line, one per recursion state. */
const PAD = 4;

/**
 * Below this sigma a blur is a convolution with the sampled kernel, not the recursion, on every
 * backend: the libraries' own kernels there are averaged (the magick ones) or too coarse to keep
 * the mean (sharp's integer one).
 */
export const SAMPLED_KERNEL_BELOW = 1;

/** Values a recursion runs through between two cancellation checks (a few milliseconds). */
const CHECK_EVERY = 1 << 18;

/**
 * Blurs a bitmap with a Gaussian of standard deviation `sigma` pixels. A recursive filter runs
 * forwards and backwards along each axis, so the time depends on the pixel count only, not on
 * sigma; below a sigma of 1, where the recursion's poles wrap round and it stops being a
 * low-pass filter, the sampled kernel (at most 9 taps) is applied instead, as the libraries do. Works on premultiplied alpha; edges repeat the border pixels. A `sigma` of zero or less
 * returns a copy; one above 1000 is taken as 1000. Memory besides the result: 8 bytes per
 * sample between the passes and one line of doubles, sized by the image (a 1x200000 image
 * needs 6 MB of it, not 64 columns' worth). `cancel` is checked every few milliseconds.
 *
 * @throws {Cancelled} when `cancel` is cancelled meanwhile
 * @example
 * ```ts
 * import { createBitmap } from "./bitmap.ts";
 * const soft = gaussianBlur(createBitmap(640, 480), 2.5);
 * ```
 */
export function gaussianBlur(
  src: Bitmap,
  sigma: number,
  cancel: CancelToken = neverCancelled,
): Bitmap {
  const { width, height, data: s } = src;
  if (!(sigma > 0)) return { width, height, data: s.slice() };
  const filterLines = sigma < SAMPLED_KERNEL_BELOW ? convolution(sigma) : recursive(sigma);
  // The recursions need doubles: in single precision, poles this close to 1 drift for a large
  // sigma. So each line is filtered in a small double buffer, and the image between the passes
  // is kept in 16 bits, half the memory of floats.
  // One row, or a strip of columns (only as many as the image has) down the whole height.
  const strip = Math.min(STRIP, width);
  const lines = new Float64Array(Math.max(width + 2 * PAD, strip * (height + 2 * PAD)) * 4);
  const mid = new Uint16Array(width * height * 4);
  for (let y = 0, p = 0; y < height; y++) {
    cancel.check();
    for (let q = PAD * 4, end = q + width * 4; q < end; q += 4, p += 4) {
      const a = s[p + 3];
      const k = a / 255;
      lines[q] = s[p] * k;
      lines[q + 1] = s[p + 1] * k;
      lines[q + 2] = s[p + 2] * k;
      lines[q + 3] = a;
    }
    filterLines(lines, 4, width, cancel);
    for (let q = PAD * 4, end = q + width * 4, o = y * width * 4; q < end; q++) {
      mid[o++] = Math.max(0, lines[q] * MID_SCALE + 0.5);
    }
  }

  // Down the columns, STRIP columns side by side: one step of the recursion is a row of them.
  const out = createBitmap(width, height);
  // A clamped view rounds and clamps to 0..255 on store.
  const px = new Uint8ClampedArray(out.data.buffer, out.data.byteOffset, out.data.length);
  for (let x0 = 0; x0 < width; x0 += strip) {
    cancel.check();
    const len = Math.min(strip, width - x0) * 4;
    for (let y = 0, q = PAD * len; y < height; y++) {
      for (let p = (y * width + x0) * 4, end = p + len; p < end; p++) {
        lines[q++] = mid[p] / MID_SCALE;
      }
    }
    filterLines(lines, len, height, cancel);
    for (let y = 0, q = PAD * len; y < height; y++) {
      for (let p = (y * width + x0) * 4, end = p + len; p < end; p += 4, q += 4) {
        const a = lines[q + 3];
        if (!(a > 0.5)) continue;
        const k = 255 / a;
        px[p] = lines[q] * k;
        px[p + 1] = lines[q + 1] * k;
        px[p + 2] = lines[q + 2] * k;
        px[p + 3] = a;
      }
    }
  }
  return out;
}

/**
 * Filters `n` samples of `len` values each, in place, along one axis. `buf` holds PAD samples
 * before the data and PAD after, free for the filter's use past the edges.
 */
type LineFilter = (buf: Float64Array, len: number, n: number, cancel: CancelToken) => void;

/** The recursive filter of variance sigma², with its boundary matrix worked out once. */
function recursive(sigma: number): LineFilter {
  const f = recursion(Math.min(sigma, MAX_SIGMA));
  const edge = edgeMatrix(f);
  return (buf, len, n, cancel) => recurse(buf, len, n, f, edge, cancel);
}

/**
 * The sampled Gaussian kernel of `sigma` (< 1), normalised, taps out to 4 sigma (≤ PAD), the
 * edges repeated. It runs in place: the inputs the taps behind still need are kept in a ring of
 * `radius` samples.
 */
function convolution(sigma: number): LineFilter {
  const weights = sampledKernel(sigma);
  const radius = weights.length - 1;
  return (buf, len, n, cancel) => {
    const start = PAD * len;
    const end = start + n * len;
    for (let k = 1; k <= radius; k++) {
      buf.copyWithin(start - k * len, start, start + len);
      buf.copyWithin(end + (k - 1) * len, end - len, end);
    }
    // ring[(i mod radius)] holds input sample i once sample i has been overwritten.
    const ring = new Float64Array(radius * len);
    for (let k = 1; k <= radius; k++) {
      ring.set(buf.subarray(start - k * len, start - (k - 1) * len), ((radius - k) % radius) * len);
    }
    for (let i = 0, p = start; i < n; i++) {
      if (i % Math.max(1, Math.floor(CHECK_EVERY / len)) === 0) cancel.check();
      const slot = (i % radius) * len;
      for (let j = 0; j < len; j++, p++) {
        let sum = weights[0] * buf[p];
        for (let t = 1; t <= radius; t++) {
          sum += weights[t] * (buf[p + t * len] + ring[((i - t + radius) % radius) * len + j]);
        }
        ring[slot + j] = buf[p];
        buf[p] = sum;
      }
    }
  };
}

/**
 * The Gaussian of `sigma` sampled at whole pixels out to 4 sigma and normalised: the weights of
 * the taps 0, ±1, … ±radius, the centre's first.
 */
export function sampledKernel(sigma: number): number[] {
  const radius = Math.ceil(4 * sigma);
  const taps = Array.from(
    { length: radius + 1 },
    (_, t) => Math.exp(-(t * t) / (2 * sigma * sigma)),
  );
  const total = taps.reduce((sum, tap, t) => sum + (t === 0 ? tap : 2 * tap), 0);
  return taps.map((tap) => tap / total);
}

/**
 * Filters `n` samples of `len` values each, in place, forwards then backwards. `buf` holds PAD
 * samples before the data and PAD after, for the states beyond the edges. A long line (a strip
 * down a tall image) checks `cancel` every CHECK_EVERY values.
 */
function recurse(
  buf: Float64Array,
  len: number,
  n: number,
  f: Recursion,
  edge: Float64Array,
  cancel: CancelToken,
) {
  const { b, a1, a2, a3, a4 } = f;
  const start = PAD * len;
  const end = start + n * len;
  const l2 = 2 * len, l3 = 3 * len, l4 = 4 * len;
  // Before the start, a constant input has settled the causal pass to that input.
  for (let k = 0; k < PAD; k++) buf.copyWithin(k * len, start, start + len);
  // Keep the last input in the trailing padding: the boundary below starts from it.
  buf.copyWithin(end + 3 * len, end - len, end);
  for (let from = start; from < end; from += CHECK_EVERY) {
    cancel.check();
    for (let i = from, to = Math.min(end, from + CHECK_EVERY); i < to; i++) {
      buf[i] = b * buf[i] + a1 * buf[i - len] + a2 * buf[i - l2] + a3 * buf[i - l3] +
        a4 * buf[i - l4];
    }
  }
  // Past the end, the input repeats its last value: the backward states follow linearly from
  // the causal states' distance to it (Triggs and Sdika).
  const state = new Float64Array(PAD);
  for (let j = 0; j < len; j++) {
    const u = buf[end + 3 * len + j];
    for (let k = 0; k < PAD; k++) state[k] = buf[end - (k + 1) * len + j] - u;
    for (let k = 0; k < PAD; k++) {
      let v = u;
      for (let m = 0; m < PAD; m++) v += edge[k * PAD + m] * state[m];
      buf[end + k * len + j] = v;
    }
  }
  for (let from = end - 1; from >= start; from -= CHECK_EVERY) {
    cancel.check();
    for (let i = from, to = Math.max(start, from - CHECK_EVERY + 1); i >= to; i--) {
      buf[i] = b * buf[i] + a1 * buf[i + len] + a2 * buf[i + l2] + a3 * buf[i + l3] +
        a4 * buf[i + l4];
    }
  }
}

/** Finds the pole scale whose forward-backward response has variance sigma². */
function recursion(sigma: number): Recursion {
  const target = sigma * sigma;
  let lo = 0;
  let hi = 1;
  while (variance(coefficients(hi)) < target) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (variance(coefficients(mid)) < target) lo = mid;
    else hi = mid;
  }
  return coefficients(hi);
}

/** The recursion whose poles are the base poles raised to 1/q (q = 1 gives sigma 2). */
function coefficients(q: number): Recursion {
  // A pole d outside the unit circle and its conjugate give the denominator factor
  // (1 - z⁻¹/d)(1 - z⁻¹/d̄) = 1 + c1·z⁻¹ + c2·z⁻².
  const [p, r] = POLES.map(({ re, im }) => {
    const modulus = Math.hypot(re, im) ** (-1 / q);
    const angle = Math.atan2(im, re) / q;
    return { c1: -2 * modulus * Math.cos(angle), c2: modulus * modulus, modulus };
  });
  const a1 = -(p.c1 + r.c1);
  const a2 = -(p.c2 + r.c2 + p.c1 * r.c1);
  const a3 = -(p.c1 * r.c2 + p.c2 * r.c1);
  const a4 = -(p.c2 * r.c2);
  const b = 1 - a1 - a2 - a3 - a4;
  return { b, a1, a2, a3, a4, slowest: Math.max(p.modulus, r.modulus) };
}

/**
 * The variance of the forward-backward response: twice that of the causal response, read off
 * its generating function b / (1 - a1·s - a2·s² - a3·s³ - a4·s⁴) at s = 1.
 */
function variance({ b, a1, a2, a3, a4 }: Recursion): number {
  const mean = (a1 + 2 * a2 + 3 * a3 + 4 * a4) / b;
  return 2 * (mean * mean + mean + (2 * a2 + 6 * a3 + 12 * a4) / b);
}

/**
 * The boundary matrix for an input that repeats its last value: row k gives the backward
 * output k samples past the end from the causal outputs at the last PAD samples (newest
 * first), each minus that value. Found by running both recursions on each unit state until it
 * has died out.
 */
function edgeMatrix({ b, a1, a2, a3, a4, slowest }: Recursion): Float64Array {
  const steps = PAD + Math.ceil(-40 / Math.log(Math.max(slowest, 0.5)));
  const w = new Float64Array(steps + PAD);
  const y = new Float64Array(steps + PAD);
  const m = new Float64Array(PAD * PAD);
  for (let j = 0; j < PAD; j++) {
    // w[0..PAD) are the causal outputs at the last samples, oldest first.
    w.fill(0);
    w[PAD - 1 - j] = 1;
    for (let n = PAD; n < steps; n++) {
      w[n] = a1 * w[n - 1] + a2 * w[n - 2] + a3 * w[n - 3] + a4 * w[n - 4];
    }
    y.fill(0);
    for (let n = steps - 1; n >= PAD; n--) {
      y[n] = b * w[n] + a1 * y[n + 1] + a2 * y[n + 2] + a3 * y[n + 3] + a4 * y[n + 4];
    }
    for (let k = 0; k < PAD; k++) m[k * PAD + j] = y[PAD + k];
  }
  return m;
}
