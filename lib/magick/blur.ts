import { EDGE_SIGMAS, SAMPLED_KERNEL_BELOW, sampledKernel } from "../image/blur.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { MagickApi, Wand } from "./api.ts";
import { jobImageName } from "./interrupt.ts";
import { check, failure } from "./exception.ts";
import { rewritePixels, STRIP_SAMPLES } from "./pixels.ts";

const MAX = 65535;

/**
 * The pixels of a framed tile (its overlap with its neighbours included) that tiles are cut
 * down to while that is cheap (see {@link CHEAP_REACHES}). GraphicsMagick holds three images of
 * a tile's size while it blurs one (the tile, a copy turned a quarter and the copy turned back):
 * 96 MiB at Q16 for this many, where the whole framed copy of a 4096x4096 image held three times
 * 129 MiB.
 */
const TILE_PIXELS = 1 << 22;

/**
 * Each tile past the first blurs two kernel reaches of rows (or columns) twice, where it overlaps
 * the one before. Tiles smaller than the plan needs are cut only up to one a this many reaches of
 * the image (the overlap then adds at most 5 % to the blur's work)…
 */
const CHEAP_REACHES = 40;

/** …and never more than one a this many (at most a quarter more work, to fit the plan). */
const REACHES_PER_TILE = 8;

/**
 * Gaussian blur with standard deviation `sigma` pixels, weighting colour by alpha so a
 * transparent neighbour's (invisible) colour does not bleed into the visible pixels, and
 * repeating the edge pixels past the border, as the pure backend does. ImageMagick does both
 * itself. GraphicsMagick blurs each channel on its own and rescales its kernel at the border,
 * so there a premultiplied copy framed by repeated edges is blurred and its inside copied back.
 * The pixel copies in JavaScript check `cancel` strip by strip. `tilePixels` overrides the size of
 * the tiles the framed copy is blurred in (see {@link blurTiles}): any size gives the same pixels.
 *
 * @throws {Unprocessable} with the library's message
 */
export function blurWand(
  api: MagickApi,
  wand: Wand,
  sigma: number,
  cancel: CancelToken = neverCancelled,
  tilePixels?: number,
): void {
  if (sigma < SAMPLED_KERNEL_BELOW) {
    blurSampled(api, wand, sigma, false, cancel);
    return;
  }
  if (api.blankImage) {
    blurFramed(api, wand, sigma, { sharpen: false, tilePixels }, cancel);
    return;
  }
  const premultiply = !api.dialect.blurWeightsAlpha && api.hasAlpha(wand);
  if (premultiply) rewritePixels(api, wand, "RGBA", toPremultiplied, cancel);
  check(api, wand, api.blur(wand, sigma), "blur");
  if (premultiply) rewritePixels(api, wand, "RGBA", toStraight, cancel);
}

/**
 * Unsharp mask of amount 1, C' = C + (C − blur(C)) on the straight colour, alpha kept, the blur
 * being {@link blurWand}'s. ImageMagick's own mask does that on an opaque image; with alpha it
 * blurs colour unweighted (see `sharpenOnBlur`). GraphicsMagick's rescales its kernel at the border
 * as its blur does (sh,10 of a 48x36 image came out 34 levels off on average), so there the mask
 * is made from the framed blur (`tilePixels` as there).
 *
 * @throws {Unprocessable} with the library's message
 */
export function sharpenWand(
  api: MagickApi,
  wand: Wand,
  sigma: number,
  cancel: CancelToken = neverCancelled,
  tilePixels?: number,
): void {
  if (sigma < SAMPLED_KERNEL_BELOW) {
    blurSampled(api, wand, sigma, true, cancel);
    return;
  }
  if (api.blankImage) {
    blurFramed(api, wand, sigma, { sharpen: true, tilePixels }, cancel);
    return;
  }
  if (api.hasAlpha(wand)) {
    sharpenOnBlur(api, wand, sigma, cancel);
    return;
  }
  // Radius 0 sizes the kernel from sigma; amount 1 adds the difference once; threshold 0.
  check(api, wand, api.c.MagickUnsharpMaskImage(wand, 0, sigma, 1, 0), "sharpen");
}

/**
 * The unsharp mask made here from a copy blurred as `b` blurs (colour weighted by alpha).
 * ImageMagick's own mask blurs the colour channels without alpha, so their weights ignore it:
 * on an image of uneven alpha it came out ~10 levels off the mask `b` defines.
 */
function sharpenOnBlur(api: MagickApi, wand: Wand, sigma: number, cancel: CancelToken): void {
  const blurred = api.c.CloneMagickWand(wand);
  if (!blurred) throw failure(api, wand, "sharpen");
  try {
    check(api, blurred, api.blur(blurred, sigma), "sharpen");
    let mask = new Uint16Array(0);
    rewritePixels(api, wand, "RGBA", (samples, y, rows) => {
      if (mask.length < samples.length) mask = new Uint16Array(samples.length);
      const strip = mask.subarray(0, samples.length);
      check(api, blurred, api.exportRows(blurred, y, rows, "RGBA", strip), "read the pixels");
      unsharp(samples, strip, 4);
      samples.set(strip);
    }, cancel);
  } finally {
    api.c.DestroyMagickWand(blurred);
  }
}

/**
 * The Gaussian's sampled kernel (`sampledKernel`, as the other backends blur) for a sigma under
 * {@link SAMPLED_KERNEL_BELOW}, on the image's 16-bit rows as they stream through: each row is
 * read once, blurred across in premultiplied values and kept in a ring of 2·radius + 1 rows
 * (radius ≤ 4), down which each output row is summed and written back, or C + (C − blur) for
 * `sharpen`. Both libraries' kernels there average each tap over a pixel, a wider blur (5.6
 * levels off on pixel-sized detail). A few rows besides the image: a copy of it as 8-bit pixels
 * and a blurred one took `b,0.5` of the largest image allowed 84 MiB past its plan.
 */
function blurSampled(
  api: MagickApi,
  wand: Wand,
  sigma: number,
  sharpen: boolean,
  cancel: CancelToken,
): void {
  const width = Number(api.c.MagickGetImageWidth(wand));
  const height = Number(api.c.MagickGetImageHeight(wand));
  const map = api.hasAlpha(wand) ? "RGBA" : "RGB";
  const channels = map.length;
  const weights = sampledKernel(sigma);
  const radius = weights.length - 1;
  const span = 2 * radius + 1;
  const read = Array.from({ length: span }, () => new Uint16Array(width * channels));
  const across = Array.from({ length: span }, () => new Float64Array(width * 4));
  const line = new Float64Array((width + 2 * radius) * 4);
  const out = new Uint16Array(width * channels);
  const readRow = (y: number) => {
    const row = read[y % span];
    check(api, wand, api.exportRows(wand, y, 1, map, row), "read the pixels");
    for (let x = 0, s = 0, q = radius * 4; x < width; x++, s += channels, q += 4) {
      const alpha = channels === 4 ? row[s + 3] : MAX;
      for (let c = 0; c < 3; c++) line[q + c] = (row[s + c] * alpha) / MAX;
      line[q + 3] = alpha;
    }
    for (let k = 0; k < radius; k++) {
      line.copyWithin(k * 4, radius * 4, radius * 4 + 4);
      line.copyWithin((width + radius + k) * 4, (width + radius - 1) * 4, (width + radius) * 4);
    }
    const blurred = across[y % span];
    for (let i = 0, q = radius * 4; i < width * 4; i++, q++) {
      let sum = weights[0] * line[q];
      for (let t = 1; t <= radius; t++) sum += weights[t] * (line[q - t * 4] + line[q + t * 4]);
      blurred[i] = sum;
    }
  };
  const rowAt = (y: number) => across[Math.min(height - 1, Math.max(0, y)) % span];
  for (let y = 0, next = 0; y < height; y++) {
    cancel.check();
    for (; next <= Math.min(height - 1, y + radius); next++) readRow(next);
    for (let x = 0, q = 0, o = 0; x < width; x++, q += 4, o += channels) {
      const sums = [0, 0, 0, 0];
      for (let t = -radius; t <= radius; t++) {
        const row = rowAt(y + t);
        const weight = weights[Math.abs(t)];
        for (let c = 0; c < 4; c++) sums[c] += weight * row[q + c];
      }
      const alpha = sums[3];
      for (let c = 0; c < 3; c++) {
        out[o + c] = alpha < 0.5 ? 0 : Math.min(MAX, Math.round((sums[c] * MAX) / alpha));
      }
      if (channels === 4) out[o + 3] = Math.min(MAX, Math.round(alpha));
    }
    if (sharpen) unsharp(read[y % span], out, channels);
    check(api, wand, api.importRows(wand, y, 1, map, out), "write the pixels");
  }
}

/**
 * How far GraphicsMagick's Gaussian reaches for `sigma`, in pixels, or a little further: given no
 * radius, it widens its kernel while the outer tap is at least 1/65535, and the density
 * e^(−r²/2σ²) / (σ√2π) falls below 2^−16 before r = σ·√(2 ln 2^16) for any sigma from 0.4 up;
 * below that the kernel is 3 to 5 taps wide. The 2 spare pixels cover the taps being averages.
 */
function kernelReach(sigma: number): number {
  return Math.ceil(sigma * Math.sqrt(32 * Math.LN2)) + 2;
}

/** A rectangle of pixels; `x` and `y` may be negative (in the frame, left of or above the image). */
interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * One piece of a framed blur, in image coordinates: `inner`, the pixels it writes back, and
 * `outer`, those it blurs: `inner` plus the kernel's reach where it meets another tile, or the
 * frame's repeated edges to the frame's border. A pixel of `inner` then sums the same taps over
 * the same values as in the whole framed copy: the tiles together give the same pixels.
 */
interface Tile {
  inner: Rect;
  outer: Rect;
  /** The part of `outer` made from the image's pixels. */
  fresh: Rect;
  /**
   * The rest of `outer`, its start, which lies in the tile before's `inner`: that tile has
   * written it over by then, so it keeps it aside (as it was) first. None for the first tile.
   */
  kept?: Rect;
}

/**
 * Two buffers of samples, each of at least {@link STRIP_SAMPLES} and at least a framed tile's
 * widest row: the strips of rows that pass through JavaScript.
 */
type Strips = [Uint16Array, Uint16Array];

/** The geometry of a blur on a framed copy. */
interface Frame {
  map: "RGB" | "RGBA";
  /** Samples per pixel. */
  channels: number;
  width: number;
  height: number;
  /** Pixels of repeated edge on each side. */
  pad: number;
  premultiply: boolean;
  /** Whether the image gets C + (C − blur) rather than the blur. */
  sharpen: boolean;
}

/**
 * Cuts the framed image across its longer side into tiles: as few as fit the memory planning
 * counts for a blur, or `tilePixels` each when given; more, down to {@link TILE_PIXELS}, while
 * cheap; never more than the overlap allows (see {@link REACHES_PER_TILE}), so one tile (the
 * whole framed copy) when the image is shorter than 8 kernel reaches. Consecutive tiles overlap
 * by `reach` on each side of their boundary.
 *
 * Planning counts the image, the result and the framed copy (see `blurScratch`); this blur holds
 * the image, written in place, and three tiles: a tile of a third of the image and the framed
 * copy together fits.
 */
function blurTiles(
  { width, height, pad }: Pick<Frame, "width" | "height" | "pad">,
  reach: number,
  tilePixels?: number,
): Tile[] {
  const byRows = height >= width;
  const along = byRows ? height : width;
  const across = (byRows ? width : height) + 2 * pad;
  /** How many tiles of at most `pixels` each the image needs. */
  const tilesOf = (pixels: number) =>
    Math.ceil(along / Math.max(1, Math.floor(pixels / across) - 2 * reach));
  const cheap = Math.min(tilesOf(TILE_PIXELS), 1 + Math.floor(along / (CHEAP_REACHES * reach)));
  const planned = tilesOf((width * height + across * (along + 2 * pad)) / 3);
  const wanted = tilePixels === undefined ? Math.max(planned, cheap) : tilesOf(tilePixels);
  const count = Math.max(
    1,
    Math.min(wanted, 1 + Math.floor(along / (REACHES_PER_TILE * reach))),
  );
  const step = Math.ceil(along / count);
  const rect = (from: number, to: number, side: number, edge: number): Rect =>
    byRows
      ? { x: -edge, y: from, width: side + 2 * edge, height: to - from }
      : { x: from, y: -edge, width: to - from, height: side + 2 * edge };
  const tiles: Tile[] = [];
  for (let start = 0; start < along; start += step) {
    const end = Math.min(along, start + step);
    const from = start === 0 ? -pad : start - reach;
    const to = Math.min(along + pad, end === along ? along + pad : end + reach);
    const side = byRows ? width : height;
    tiles.push({
      inner: rect(start, end, side, 0),
      outer: rect(from, to, side, pad),
      fresh: rect(start === 0 ? from : start, to, side, pad),
      kept: start === 0 ? undefined : rect(from, start, side, pad),
    });
  }
  return tiles;
}

/**
 * Blurs the image framed by `pad` repeated edge pixels, a tile at a time (see {@link blurTiles}),
 * so the framed copy and GraphicsMagick's two working images exist only a tile at a time. A tile
 * is written back once blurred; the part of it the next tile still needs, as it was, is kept
 * aside first (`carry`, see `Tile.kept`).
 */
function blurFramed(
  api: MagickApi,
  wand: Wand,
  sigma: number,
  { sharpen, tilePixels }: Pick<Frame, "sharpen"> & { tilePixels?: number },
  cancel: CancelToken,
): void {
  const map = api.hasAlpha(wand) ? "RGBA" : "RGB";
  const width = Number(api.c.MagickGetImageWidth(wand));
  const height = Number(api.c.MagickGetImageHeight(wand));
  const reach = kernelReach(sigma);
  const edge = Math.ceil(EDGE_SIGMAS * sigma);
  // GraphicsMagick's blur loses weight on an image narrower than its kernel (a 2x2 image's b,3
  // kept 38 of its mean alpha 82.5, a 4x4's colour came out 13 levels off), so a frame that
  // would leave the copy that narrow reaches as far as the kernel: only small images need it.
  const narrow = Math.min(width, height) + 2 * edge < 2 * reach + 1;
  const frame: Frame = {
    map,
    channels: map.length,
    width,
    height,
    pad: narrow ? Math.max(edge, reach) : edge,
    premultiply: map === "RGBA" && !api.dialect.blurWeightsAlpha,
    sharpen,
  };
  const tiles = blurTiles(frame, reach, tilePixels);
  const name = jobImageName(cancel.job);
  // The strips of pixels in JavaScript and what a tile keeps aside for the next are allocated
  // once for all tiles (a tile's would otherwise wait for the garbage collector).
  const widest = Math.max(...tiles.map(({ outer }) => outer.width)) * frame.channels;
  const strips: Strips = [0, 1].map(() =>
    new Uint16Array(Math.max(STRIP_SAMPLES, widest))
  ) as Strips;
  const kept = tiles[1]?.kept;
  const carry = new Uint16Array(kept ? kept.width * kept.height * frame.channels : 0);
  for (const [i, tile] of tiles.entries()) {
    const { outer, fresh } = tile;
    const framed = api.blankImage!(outer.width, outer.height, map === "RGBA", name);
    if (!framed) throw failure(api, wand, "blur");
    try {
      fillFrame(api, wand, framed, frame, { outer, part: fresh }, strips, cancel);
      if (tile.kept) tileRegion(api, { framed, outer }, tile.kept, map, carry, "write");
      const next = tiles[i + 1]?.kept;
      if (next) tileRegion(api, { framed, outer }, next, map, carry, "read");
      check(api, framed, api.blur(framed, sigma), "blur");
      copyInside(api, framed, wand, frame, tile, strips, cancel);
    } finally {
      api.c.DestroyMagickWand(framed);
    }
  }
}

/**
 * Reads `region` (image coordinates) of the tile `framed` covering `outer` into `samples`, or
 * writes `samples` over it.
 */
function tileRegion(
  api: MagickApi,
  { framed, outer }: { framed: Wand; outer: Rect },
  region: Rect,
  map: "RGB" | "RGBA",
  samples: Uint16Array,
  way: "read" | "write",
): void {
  const y = region.y - outer.y;
  const span = { x: region.x - outer.x, width: region.width };
  const done = way === "read"
    ? api.exportRows(framed, y, region.height, map, samples, span)
    : api.importRows(framed, y, region.height, map, samples, span);
  check(api, framed, done, `${way} the pixels`);
}

/**
 * Writes the image's pixels into `part` (image coordinates) of the tile `framed` covering `outer`,
 * repeating the image's edge pixels where `part` is past them, a strip of rows at a time;
 * premultiplied when the frame says so.
 */
function fillFrame(
  api: MagickApi,
  wand: Wand,
  framed: Wand,
  frame: Frame,
  { outer, part }: { outer: Rect; part: Rect },
  [source, out]: Strips,
  cancel: CancelToken,
): void {
  const { map, channels, width, height } = frame;
  const left = Math.max(0, part.x);
  const right = Math.min(width, part.x + part.width);
  const before = left - part.x;
  const inside = right - left;
  const rowsPerStrip = Math.max(1, Math.floor(out.length / (part.width * channels)));
  const sourceRow = (y: number) => Math.min(height - 1, Math.max(0, y));
  const span = { x: left, width: inside };
  const framedSpan = { x: part.x - outer.x, width: part.width };
  for (let y = part.y; y < part.y + part.height; y += rowsPerStrip) {
    cancel.check();
    const rows = Math.min(rowsPerStrip, part.y + part.height - y);
    const first = sourceRow(y);
    const count = sourceRow(y + rows - 1) - first + 1;
    const samples = source.subarray(0, count * inside * channels);
    check(api, wand, api.exportRows(wand, first, count, map, samples, span), "read the pixels");
    if (frame.premultiply) toPremultiplied(samples);
    for (let r = 0; r < rows; r++) {
      const from = (sourceRow(y + r) - first) * inside * channels;
      const row = samples.subarray(from, from + inside * channels);
      const at = r * part.width * channels;
      const leftmost = row.subarray(0, channels);
      const rightmost = row.subarray((inside - 1) * channels);
      for (let x = 0; x < before; x++) out.set(leftmost, at + x * channels);
      for (let x = before + inside; x < part.width; x++) out.set(rightmost, at + x * channels);
      out.set(row, at + before * channels);
    }
    const strip = out.subarray(0, rows * part.width * channels);
    const written = api.importRows(framed, y - outer.y, rows, map, strip, framedSpan);
    check(api, framed, written, "write the pixels");
  }
}

/**
 * Copies the tile's inner pixels from `framed` back over the image, straightened when
 * premultiplied, and made the unsharp mask of the image's own pixels when sharpening.
 */
function copyInside(
  api: MagickApi,
  framed: Wand,
  wand: Wand,
  frame: Frame,
  { inner, outer }: Tile,
  [strip, original]: Strips,
  cancel: CancelToken,
): void {
  const { map, channels } = frame;
  const rowsPerStrip = Math.max(1, Math.floor(strip.length / (inner.width * channels)));
  const span = { x: inner.x, width: inner.width };
  const framedSpan = { x: inner.x - outer.x, width: inner.width };
  for (let y = inner.y; y < inner.y + inner.height; y += rowsPerStrip) {
    cancel.check();
    const rows = Math.min(rowsPerStrip, inner.y + inner.height - y);
    const blurred = strip.subarray(0, rows * inner.width * channels);
    const read = api.exportRows(framed, y - outer.y, rows, map, blurred, framedSpan);
    check(api, framed, read, "read the pixels");
    if (frame.premultiply) toStraight(blurred);
    if (frame.sharpen) {
      const image = original.subarray(0, blurred.length);
      check(api, wand, api.exportRows(wand, y, rows, map, image, span), "read the pixels");
      unsharp(image, blurred, channels);
    }
    check(api, wand, api.importRows(wand, y, rows, map, blurred, span), "write the pixels");
  }
}

/** Turns `blurred` into the image plus its difference from the blur; the image's alpha kept. */
function unsharp(image: Uint16Array, blurred: Uint16Array, channels: number): void {
  for (let i = 0; i < blurred.length; i += channels) {
    for (let c = i; c < i + 3; c++) {
      blurred[c] = Math.min(MAX, Math.max(0, 2 * image[c] - blurred[c]));
    }
    if (channels === 4) blurred[i + 3] = image[i + 3];
  }
}

function toPremultiplied(samples: Uint16Array): void {
  for (let i = 0; i < samples.length; i += 4) {
    const alpha = samples[i + 3];
    for (let c = i; c < i + 3; c++) samples[c] = Math.round((samples[c] * alpha) / MAX);
  }
}

/** Divides colour by alpha again; a pixel that ended fully transparent becomes black. */
function toStraight(samples: Uint16Array): void {
  for (let i = 0; i < samples.length; i += 4) {
    const alpha = samples[i + 3];
    for (let c = i; c < i + 3; c++) {
      samples[c] = alpha === 0 ? 0 : Math.min(MAX, Math.round((samples[c] * MAX) / alpha));
    }
  }
}
