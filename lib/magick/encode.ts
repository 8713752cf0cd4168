import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import { jpegFullChroma, type OutputFormat, PNG_DEFLATE_LEVEL } from "../image/formats.ts";
import { cString, type MagickApi, type Wand } from "./api.ts";
import { check, failure } from "./exception.ts";
import { eachFrame, firstFrame, frameCount } from "./frames.ts";
import { withPixelWand } from "./pixel_wand.ts";
import { exportBitmap } from "./pixels.ts";
import { watchLongWork } from "./watch.ts";
import { type AnimationFrame, encodeGif } from "../image/gif_encode.ts";

/** PNG's filter type 5 for the libraries: each row its own filter, chosen adaptively. */
const ADAPTIVE_FILTER = 5;

/**
 * Encodes the wand's image as PNG (alpha kept) or JPEG (alpha flattened onto the format's
 * background, white by default), 8 bits per sample, or as GIF with every frame, its delay and
 * the loop count; without metadata. The other formats take the first frame alone. The result is a fresh copy in JavaScript memory.
 * The wand's format, quality and depth are changed in place: encoding is a canvas's last step.
 * A large image's encoding stops once `cancel` is cancelled (see `watchLongWork`).
 *
 * @throws {Unprocessable} with the library's message when encoding fails
 */
export function encodeWand(
  api: MagickApi,
  wand: Wand,
  format: OutputFormat,
  cancel: CancelToken = neverCancelled,
): Uint8Array<ArrayBuffer> {
  if (format.type === "gif") return encodeGifFrames(api, wand);
  const first = frameCount(api, wand) > 1 ? firstFrame(api, wand) : null;
  try {
    return encodeImages(api, first ?? wand, format, cancel);
  } finally {
    if (first) api.c.DestroyMagickWand(first);
  }
}

/**
 * GIF through gifenc, as on the pure backend: GraphicsMagick's own GIF writer spends seconds
 * to minutes on wide, thin images (10000x1: 37 s of CPU) inside one call nothing can
 * interrupt, and one encoder for every backend writes the same palettes. Every frame keeps its
 * delay, and an animation its loop count.
 */
function encodeGifFrames(api: MagickApi, wand: Wand): Uint8Array<ArrayBuffer> {
  const frames: AnimationFrame[] = [];
  eachFrame(api, wand, () => {
    const delayMs = Number(api.c.MagickGetImageDelay(wand)) * 10;
    frames.push({ bitmap: exportBitmap(api, wand), delayMs });
  });
  if (frames.length === 1) return encodeGif(frames, undefined);
  const iterations = Number(api.c.MagickGetImageIterations(wand));
  const firstPlay = api.dialect.iterationsCountFirstPlay && iterations > 0 ? 1 : 0;
  return encodeGif(frames, iterations - firstPlay);
}

/** `encodeWand` once the wand holds the one image to write. */
function encodeImages(
  api: MagickApi,
  wand: Wand,
  format: OutputFormat,
  cancel: CancelToken,
): Uint8Array<ArrayBuffer> {
  const doing = `encode ${format.type}`;
  const { c } = api;
  eachFrame(api, wand, () => check(api, wand, c.MagickSetImagePage(wand, 0n, 0n, 0n, 0n), doing));
  const copy = format.type === "jpeg"
    ? flattenedCopy(api, wand, format.background ?? "ffffff")
    : textFreeCopy(api, wand);
  const target = copy ?? wand;
  try {
    // Both the image's and the wand's format: ImageMagick 6 writes in the wand's, which
    // decoding set to the source format.
    const coder = cString(format.type.toUpperCase());
    eachFrame(api, target, () => {
      const pixels = Number(c.MagickGetImageWidth(target) * c.MagickGetImageHeight(target));
      check(api, target, watchLongWork(api, target, cancel, pixels), doing);
      check(api, target, c.MagickStripImage(target), doing);
      check(api, target, c.MagickSetImageFormat(target, coder), doing);
    });
    check(api, target, c.MagickSetFormat(target, coder), doing);
    if (format.type === "png") setPngOptions(api, target, doing);
    else if (format.type === "webp") setWebpOptions(api, target, format, doing);
    else if (format.type === "jpeg") setJpegOptions(api, target, format, doing);
    return takeBlob(api, target, doing);
  } finally {
    if (copy) api.c.DestroyMagickWand(copy);
  }
}

/** `LineInterlace` in both libraries' InterlaceType: their JPEG writers make it progressive. */
const LINE_INTERLACE = 2;

/**
 * Rows beyond which the PNG writer is told its colour type. Left to choose, ImageMagick's writer
 * looks for a palette at a cost of about rows × colours (0.24 µs each, measured): 12 s for a
 * grey 1x200000 image, in one call nothing interrupts, against 0.1 s as RGB. At 4096 rows the
 * search costs at most ~0.25 s, and images that tall and that flat are rare enough that the
 * palette's smaller files are not worth that risk beyond.
 */
const PNG_PALETTE_SEARCH_ROWS = 4096;

function setPngOptions(api: MagickApi, wand: Wand, doing: string): void {
  // 8 bits per sample, as the pure backend writes, even from a 16-bit source.
  check(api, wand, api.c.MagickSetImageDepth(wand, 8n), doing);
  // The level every backend uses: as the two-digit PNG "quality" (level, filter) for
  // GraphicsMagick, which would otherwise derive it from the quality the source JPEG happened to
  // have; ImageMagick's writer reads the wand's quality instead (75 unless set), and takes the
  // level and filter as options.
  const level = String(PNG_DEFLATE_LEVEL);
  check(api, wand, api.setQuality(wand, PNG_DEFLATE_LEVEL * 10 + ADAPTIVE_FILTER), doing);
  check(api, wand, api.setCoderOption(wand, "png", "compression-level", level), doing);
  const filter = String(ADAPTIVE_FILTER);
  check(api, wand, api.setCoderOption(wand, "png", "compression-filter", filter), doing);
  if (Number(api.c.MagickGetImageHeight(wand)) > PNG_PALETTE_SEARCH_ROWS) {
    // Truecolour (2) or truecolour with alpha (6): no palette search.
    const type = api.hasAlpha(wand) ? "6" : "2";
    check(api, wand, api.setCoderOption(wand, "png", "color-type", type), doing);
  }
}

function setWebpOptions(api: MagickApi, wand: Wand, format: OutputFormat, doing: string): void {
  check(api, wand, api.setQuality(wand, format.quality), doing);
  // Said either way: ImageMagick turns quality 100 lossless by itself.
  const lossless = format.lossless ? "true" : "false";
  check(api, wand, api.setCoderOption(wand, "webp", "lossless", lossless), doing);
}

function setJpegOptions(api: MagickApi, wand: Wand, format: OutputFormat, doing: string): void {
  check(api, wand, api.setQuality(wand, format.quality), doing);
  if (format.progressive) {
    check(api, wand, api.c.MagickSetInterlaceScheme(wand, LINE_INTERLACE), doing);
  }
  // Explicit, as on every backend (4:4:4 the same factors, all 1).
  const full = jpegFullChroma(format.quality);
  const factors = new Float64Array(api.dialect.sampling420.map((factor) => full ? 1 : factor));
  check(api, wand, api.c.MagickSetSamplingFactors(wand, BigInt(factors.length), factors), doing);
  check(api, wand, api.keepTrueColor(wand), doing);
}

/**
 * For JPEG: a new wand with the image composited onto `background` (`RRGGBB`), or null when
 * it is opaque.
 */
function flattenedCopy(api: MagickApi, wand: Wand, background: string): Wand | null {
  if (!api.hasAlpha(wand)) return null;
  withPixelWand(api, `#${background}`, (color) => {
    check(api, wand, api.c.MagickSetImageBackgroundColor(wand, color), "flatten");
  });
  const flattened = api.flatten(wand);
  if (!flattened) throw failure(api, wand, "flatten");
  return flattened;
}

/** For PNG: a new wand with the pixels alone, where strip leaves text behind, or null. */
function textFreeCopy(api: MagickApi, wand: Wand): Wand | null {
  if (!api.copyPixels) return null;
  const copy = api.copyPixels(wand);
  if (!copy) throw failure(api, wand, "copy the pixels");
  return copy;
}

/**
 * Encodes the current image, or with `allImages` every image of the wand, copies the
 * library's buffer into JavaScript memory and frees it.
 */
function takeBlob(api: MagickApi, wand: Wand, doing: string): Uint8Array<ArrayBuffer> {
  const length = new BigUint64Array(1);
  const blob = api.writeBlob(wand, length);
  if (!blob) throw failure(api, wand, doing);
  try {
    const bytes = new Uint8Array(Number(length[0]));
    new Deno.UnsafePointerView(blob).copyInto(bytes);
    return bytes;
  } finally {
    api.c.MagickRelinquishMemory(blob);
  }
}
