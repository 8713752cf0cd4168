import { EDGE_SIGMAS } from "../image/blur.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { MagickApi, Wand } from "./api.ts";
import { jobImageName } from "./interrupt.ts";
import { check, failure } from "./exception.ts";
import { rewritePixels, STRIP_SAMPLES } from "./pixels.ts";

const MAX = 65535;

/**
 * Gaussian blur with standard deviation `sigma` pixels, weighting colour by alpha so a
 * transparent neighbour's (invisible) colour does not bleed into the visible pixels, and
 * repeating the edge pixels past the border, as the pure backend does. ImageMagick does both
 * itself. GraphicsMagick blurs each channel on its own and rescales its kernel at the border,
 * so there a premultiplied copy framed by repeated edges is blurred and its inside copied back.
 * The pixel copies in JavaScript check `cancel` strip by strip.
 *
 * @throws {Unprocessable} with the library's message
 */
export function blurWand(
  api: MagickApi,
  wand: Wand,
  sigma: number,
  cancel: CancelToken = neverCancelled,
): void {
  const premultiply = !api.dialect.blurWeightsAlpha && api.hasAlpha(wand);
  if (api.blankImage) {
    blurFramed(api, wand, sigma, premultiply, false, cancel);
    return;
  }
  if (premultiply) rewritePixels(api, wand, "RGBA", toPremultiplied, cancel);
  check(api, wand, api.blur(wand, sigma), "blur");
  if (premultiply) rewritePixels(api, wand, "RGBA", toStraight, cancel);
}

/**
 * Unsharp mask of amount 1, C' = C + (C − blur(C)) on the straight colour, alpha kept.
 * ImageMagick's own mask does that; GraphicsMagick's rescales its kernel at the border as its blur
 * does (sh,10 of a 48x36 image came out 34 levels off on average), so there the mask is made
 * from {@link blurWand}'s framed blur.
 *
 * @throws {Unprocessable} with the library's message
 */
export function sharpenWand(
  api: MagickApi,
  wand: Wand,
  sigma: number,
  cancel: CancelToken = neverCancelled,
): void {
  if (api.blankImage) {
    const premultiply = !api.dialect.blurWeightsAlpha && api.hasAlpha(wand);
    blurFramed(api, wand, sigma, premultiply, true, cancel);
    return;
  }
  // Radius 0 sizes the kernel from sigma; amount 1 adds the difference once; threshold 0.
  check(api, wand, api.c.MagickUnsharpMaskImage(wand, 0, sigma, 1, 0), "sharpen");
}

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

function blurFramed(
  api: MagickApi,
  wand: Wand,
  sigma: number,
  premultiply: boolean,
  sharpen: boolean,
  cancel: CancelToken,
): void {
  const map = api.hasAlpha(wand) ? "RGBA" : "RGB";
  const frame: Frame = {
    map,
    channels: map.length,
    width: Number(api.c.MagickGetImageWidth(wand)),
    height: Number(api.c.MagickGetImageHeight(wand)),
    pad: Math.ceil(EDGE_SIGMAS * sigma),
    premultiply,
    sharpen,
  };
  const { width, height, pad } = frame;
  const name = jobImageName(cancel.job);
  const framed = api.blankImage!(width + 2 * pad, height + 2 * pad, map === "RGBA", name);
  if (!framed) throw failure(api, wand, "blur");
  try {
    fillFrame(api, wand, framed, frame, cancel);
    check(api, framed, api.blur(framed, sigma), "blur");
    copyInside(api, framed, wand, frame, cancel);
  } finally {
    api.c.DestroyMagickWand(framed);
  }
}

/**
 * Writes the image into the middle of `framed` and repeats its edge pixels out to the frame's
 * border, a strip of rows at a time; premultiplied when the frame says so.
 */
function fillFrame(
  api: MagickApi,
  wand: Wand,
  framed: Wand,
  frame: Frame,
  cancel: CancelToken,
): void {
  const { map, channels, width, height, pad } = frame;
  const framedWidth = width + 2 * pad;
  const rowsPerStrip = Math.max(1, Math.floor(STRIP_SAMPLES / (framedWidth * channels)));
  const source = new Uint16Array(rowsPerStrip * width * channels);
  const out = new Uint16Array(rowsPerStrip * framedWidth * channels);
  const sourceRow = (y: number) => Math.min(height - 1, Math.max(0, y - pad));
  for (let y = 0; y < height + 2 * pad; y += rowsPerStrip) {
    cancel.check();
    const rows = Math.min(rowsPerStrip, height + 2 * pad - y);
    const first = sourceRow(y);
    const count = sourceRow(y + rows - 1) - first + 1;
    const samples = source.subarray(0, count * width * channels);
    check(api, wand, api.exportRows(wand, first, count, map, samples), "read the pixels");
    if (frame.premultiply) toPremultiplied(samples);
    for (let r = 0; r < rows; r++) {
      const from = (sourceRow(y + r) - first) * width * channels;
      const row = samples.subarray(from, from + width * channels);
      const at = r * framedWidth * channels;
      const left = row.subarray(0, channels);
      const right = row.subarray((width - 1) * channels);
      for (let x = 0; x < pad; x++) {
        out.set(left, at + x * channels);
        out.set(right, at + (pad + width + x) * channels);
      }
      out.set(row, at + pad * channels);
    }
    const strip = out.subarray(0, rows * framedWidth * channels);
    check(api, framed, api.importRows(framed, y, rows, map, strip), "write the pixels");
  }
}

/** Copies the middle of `framed` back over the image, straightened when premultiplied. */
function copyInside(
  api: MagickApi,
  framed: Wand,
  wand: Wand,
  frame: Frame,
  cancel: CancelToken,
): void {
  const { map, channels, width, height, pad } = frame;
  const framedWidth = width + 2 * pad;
  const rowsPerStrip = Math.max(1, Math.floor(STRIP_SAMPLES / (framedWidth * channels)));
  const source = new Uint16Array(rowsPerStrip * framedWidth * channels);
  const inside = new Uint16Array(rowsPerStrip * width * channels);
  const original = new Uint16Array(frame.sharpen ? inside.length : 0);
  for (let y = 0; y < height; y += rowsPerStrip) {
    cancel.check();
    const rows = Math.min(rowsPerStrip, height - y);
    const samples = source.subarray(0, rows * framedWidth * channels);
    check(api, framed, api.exportRows(framed, y + pad, rows, map, samples), "read the pixels");
    for (let r = 0; r < rows; r++) {
      const from = (r * framedWidth + pad) * channels;
      inside.set(samples.subarray(from, from + width * channels), r * width * channels);
    }
    const strip = inside.subarray(0, rows * width * channels);
    if (frame.premultiply) toStraight(strip);
    if (frame.sharpen) {
      const image = original.subarray(0, strip.length);
      check(api, wand, api.exportRows(wand, y, rows, map, image), "read the pixels");
      unsharp(image, strip, channels);
    }
    check(api, wand, api.importRows(wand, y, rows, map, strip), "write the pixels");
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
