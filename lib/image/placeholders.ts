import { encode as encodeBlurhash } from "blurhash";
import { rgbaToThumbHash } from "thumbhash";
import type { Bitmap } from "./bitmap.ts";

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
  /** The sample's BlurHash (the reference encoder, which ignores alpha). */
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
    blurhash: encodeBlurhash(clamped, width, height, components.x, components.y),
  };
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
  const pixels: number[] = [];
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] >= MIN_ALPHA) pixels.push(data[i], data[i + 1], data[i + 2]);
  }
  if (pixels.length === 0) return "#000000";
  let centres = gridSeeds(pixels);
  let counts: number[] = [];
  for (let round = 0; round < ITERATIONS; round++) {
    const sums = centres.map(() => [0, 0, 0]);
    counts = centres.map(() => 0);
    for (let i = 0; i < pixels.length; i += 3) {
      const nearest = nearestCentre(centres, pixels, i);
      for (let c = 0; c < 3; c++) sums[nearest][c] += pixels[i + c];
      counts[nearest]++;
    }
    centres = centres.map((centre, k) =>
      counts[k] > 0 ? sums[k].map((s) => s / counts[k]) : centre
    );
  }
  return hex(centres[counts.indexOf(Math.max(...counts))]);
}

function nearestCentre(centres: number[][], pixels: number[], i: number): number {
  let best = 0;
  let bestDistance = Infinity;
  for (let k = 0; k < centres.length; k++) {
    const [r, g, b] = centres[k];
    const distance = (pixels[i] - r) ** 2 + (pixels[i + 1] - g) ** 2 + (pixels[i + 2] - b) ** 2;
    if (distance < bestDistance) [best, bestDistance] = [k, distance];
  }
  return best;
}

/** The mean colours of the most populated cells of an 8x8x8 grid over RGB, most first. */
function gridSeeds(pixels: number[]): number[][] {
  const cells = new Map<number, { count: number; sum: number[] }>();
  for (let i = 0; i < pixels.length; i += 3) {
    const key = (pixels[i] >> 5) << 6 | (pixels[i + 1] >> 5) << 3 | pixels[i + 2] >> 5;
    const cell = cells.get(key) ?? { count: 0, sum: [0, 0, 0] };
    for (let c = 0; c < 3; c++) cell.sum[c] += pixels[i + c];
    cell.count++;
    cells.set(key, cell);
  }
  return [...cells.values()]
    .sort((a, b) => b.count - a.count)
    .slice(0, CLUSTERS)
    .map((cell) => cell.sum.map((s) => s / cell.count));
}
