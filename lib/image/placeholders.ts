import { encode as encodeBlurhash } from "blurhash";
import { rgbaToThumbHash } from "thumbhash";
import { type Bitmap, fitWithin } from "./bitmap.ts";
import { resizeBitmap } from "./resample.ts";

/** The longest side ThumbHash takes (its reference encoder refuses more). */
export const THUMBHASH_MAX_SIDE = 100;

/** What `info` tells about a result's pixels, all computed on one small sample of it. */
export interface PixelFacts {
  /** `#rrggbb`: the mean colour, each pixel weighted by its alpha. */
  average: string;
  /** `#rrggbb`: the centre of the largest colour cluster (see {@link dominantColor}). */
  dominant: string;
  /** Base64 of the sample's ThumbHash (the reference encoder, alpha included). */
  thumbhash: string;
  /** The BlurHash (the reference encoder, which ignores alpha) of a 32 px copy of the sample. */
  blurhash: string;
}

/**
 * The colour facts and placeholders of an image, from a sample of it at most
 * {@link THUMBHASH_MAX_SIDE} pixels on its longer side (`Canvas.sample`).
 *
 * @example
 * ```ts
 * const facts = pixelFacts(await canvas.sample(THUMBHASH_MAX_SIDE), { x: 4, y: 3 });
 * ```
 */
export function pixelFacts(sample: Bitmap, components: { x: number; y: number }): PixelFacts {
  const { width, height, data } = sample;
  const clamped = new Uint8ClampedArray(data.buffer, data.byteOffset, width * height * 4);
  return {
    average: averageColor(sample),
    dominant: dominantColor(sample),
    thumbhash: btoa(String.fromCharCode(...rgbaToThumbHash(width, height, clamped))),
    blurhash: blurhashOf(sample, components),
  };
}

/**
 * The longer side of the sample BlurHash is computed on. Its reference encoder converts every
 * pixel to linear light once per component (12 by default): on the 100 px sample that was
 * 10–30 ms, on this one ~1 ms, and its few low-frequency components hardly differ.
 */
const BLURHASH_SIDE = 32;

function blurhashOf(sample: Bitmap, components: { x: number; y: number }): string {
  const { width, height } = fitWithin(sample, BLURHASH_SIDE);
  const small = resizeBitmap(sample, width, height);
  const clamped = new Uint8ClampedArray(
    small.data.buffer,
    small.data.byteOffset,
    width * height * 4,
  );
  return encodeBlurhash(clamped, width, height, components.x, components.y);
}

function hex(rgb: readonly number[]): string {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;
}

/** The mean of R, G and B weighted by alpha; a wholly transparent image is black. */
export function averageColor({ data }: Bitmap): string {
  const sum = [0, 0, 0];
  let weight = 0;
  for (let i = 0; i < data.length; i += 4) {
    const alpha = data[i + 3];
    for (let c = 0; c < 3; c++) sum[c] += data[i + c] * alpha;
    weight += alpha;
  }
  return hex(sum.map((s) => (weight > 0 ? s / weight : 0)));
}

/** Clusters k-means looks for: a photo's few main colours without splitting hairs. */
const CLUSTERS = 5;
/** Lloyd iterations: on 10,000 pixels the centres stop moving by then. */
const ITERATIONS = 8;
/** Pixels more transparent than this take no part: their colour does not show. */
const MIN_ALPHA = 128;

/**
 * The dominant colour: k-means (k = 5, 8 iterations of Lloyd's algorithm, squared RGB
 * distance) on the sample's pixels that are at least half opaque, started deterministically
 * from the means of the 5 most populated cells of a 8x8x8 colour grid; the answer is the
 * centre of the cluster that holds the most pixels. The same image always gives the same
 * colour, and a flat area of one colour wins over a spread of similar ones.
 */
export function dominantColor({ data }: Bitmap): string {
  const pixels = new Uint8Array(data.length);
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < MIN_ALPHA) continue;
    pixels.set(data.subarray(i, i + 3), count * 3);
    count++;
  }
  if (count === 0) return "#000000";
  const centres = gridSeeds(pixels, count);
  const k = centres.length / 3;
  const sums = new Float64Array(k * 3);
  const members = new Uint32Array(k);
  for (let round = 0; round < ITERATIONS; round++) {
    sums.fill(0);
    members.fill(0);
    for (let i = 0; i < count * 3; i += 3) {
      const nearest = nearestCentre(centres, pixels[i], pixels[i + 1], pixels[i + 2]);
      sums[nearest * 3] += pixels[i];
      sums[nearest * 3 + 1] += pixels[i + 1];
      sums[nearest * 3 + 2] += pixels[i + 2];
      members[nearest]++;
    }
    for (let j = 0; j < k; j++) {
      if (members[j] === 0) continue; // an empty cluster keeps its centre
      for (let c = 0; c < 3; c++) centres[j * 3 + c] = sums[j * 3 + c] / members[j];
    }
  }
  const largest = members.indexOf(Math.max(...members));
  return hex([...centres.subarray(largest * 3, largest * 3 + 3)]);
}

function nearestCentre(centres: Float64Array, r: number, g: number, b: number): number {
  let best = 0;
  let bestDistance = Infinity;
  for (let k = 0; k < centres.length; k += 3) {
    const dr = r - centres[k], dg = g - centres[k + 1], db = b - centres[k + 2];
    const distance = dr * dr + dg * dg + db * db;
    if (distance < bestDistance) [best, bestDistance] = [k / 3, distance];
  }
  return best;
}

/** The mean colours of the most populated cells of an 8x8x8 grid over RGB, most first. */
function gridSeeds(pixels: Uint8Array, count: number): Float64Array {
  const cells = new Float64Array(512 * 4); // per cell: R, G, B sums and the count
  for (let i = 0; i < count * 3; i += 3) {
    const cell = ((pixels[i] >> 5) << 6 | (pixels[i + 1] >> 5) << 3 | pixels[i + 2] >> 5) * 4;
    cells[cell] += pixels[i];
    cells[cell + 1] += pixels[i + 1];
    cells[cell + 2] += pixels[i + 2];
    cells[cell + 3]++;
  }
  const order = Array.from({ length: 512 }, (_, i) => i)
    .filter((i) => cells[i * 4 + 3] > 0)
    .sort((a, b) => cells[b * 4 + 3] - cells[a * 4 + 3] || a - b)
    .slice(0, CLUSTERS);
  return Float64Array.from(
    order.flatMap((i) => [0, 1, 2].map((c) => cells[i * 4 + c] / cells[i * 4 + 3])),
  );
}
