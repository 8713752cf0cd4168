import type { DecodeHint, DecodeOptions, ShrinkOnLoad } from "../image/backend.ts";
import type { Size } from "../image/bitmap.ts";
import { neverCancelled } from "../image/cancel.ts";
import { Unprocessable } from "../errors.ts";
import type { SourceFormat } from "../image/formats.ts";
import { probeImage } from "../image/probe.ts";
import type { MagickApi, Wand } from "./api.ts";
import {
  check,
  CORRUPT_IMAGE_WARNING,
  ERROR_EXCEPTION,
  failure,
  takeException,
} from "./exception.ts";
import { eachFrame, firstFrame, frameCount } from "./frames.ts";
import { jobImageName } from "./interrupt.ts";
import { watchLongWork } from "./watch.ts";

/**
 * The library's coder for each format we let it read (see `MagickApi.setReadFormat`). AVIF
 * reaches the library already decoded, as PAM (see `avifAsPam`).
 */
const coders: Record<SourceFormat, string> = {
  avif: "PAM",
  jpeg: "JPEG",
  png: "PNG",
  gif: "GIF",
  tiff: "TIFF",
  webp: "WEBP",
  bmp: "BMP",
};

/**
 * How much larger than the hint the decoded size asked of a JPEG is, per `image.shrinkOnLoad`
 * policy: `fast` asks for the hint itself (libjpeg then picks the largest DCT reduction that
 * covers it); `quality` asks for twice the hint, so the DCT scaling stops early enough that
 * the Lanczos resize still has real pixels to average. On a zone plate, 4000x3000 to 400x300,
 * `quality` halves the error against a full decode. See docs/performance.md for photographs.
 */
export const HINT_MARGINS: Readonly<Record<ShrinkOnLoad, number>> = { fast: 1, quality: 2 };

/**
 * The size to ask the JPEG decoder for: the hint times the policy's margin, but never more
 * than the stored size, because asked for more, libjpeg scales up (by 2, with both libraries).
 */
function jpegDecodeSize(bytes: Uint8Array, hint: DecodeHint): Size {
  const stored = probeImage(bytes, "jpeg");
  const margin = hint.margin ?? HINT_MARGINS[hint.shrinkOnLoad ?? "fast"];
  return {
    width: Math.min(Math.ceil(hint.minSize.width * margin), stored.width),
    height: Math.min(Math.ceil(hint.minSize.height * margin), stored.height),
  };
}

/**
 * Decodes `bytes` into a new wand, as RGB(A) with its page reset: the first frame, or with
 * `allFrames` every frame of a GIF, each composited onto the full canvas as it shows. Only
 * what is kept is decoded: the other pages of a TIFF and frames of a GIF are skipped. The
 * wand's operations stop once `cancel` is cancelled (see `MagickApi.watch`).
 *
 * @throws {Unprocessable} with the library's message when the bytes are not a valid image
 */
export function decodeWand(
  api: MagickApi,
  bytes: Uint8Array,
  format: SourceFormat,
  { hint, allFrames, cancel = neverCancelled }: DecodeOptions,
): Wand {
  const { c } = api;
  let wand: Wand | null = c.NewMagickWand();
  if (!wand) throw new Error(`${api.dialect.label} could not allocate a wand`);
  try {
    const doing = `decode the ${format} source`;
    const firstOnly = !(format === "gif" && allFrames);
    check(
      api,
      wand,
      watchLongWork(api, wand, cancel, decodedPixels(bytes, format, firstOnly)),
      doing,
    );
    const name = jobImageName(cancel.job);
    check(api, wand, api.setReadFormat(wand, coders[format], name, firstOnly), doing);
    if (hint && format === "jpeg") {
      const { width, height } = jpegDecodeSize(bytes, hint);
      check(api, wand, api.setDecodeSize(wand, width, height), doing);
    }
    readBlob(api, wand, bytes, doing);
    if (frameCount(api, wand) > 1) {
      const kept = format === "gif" && allFrames ? coalesced(api, wand) : firstFrame(api, wand);
      c.DestroyMagickWand(wand);
      wand = kept;
    }
    const result = wand;
    eachFrame(api, result, () => normalize(api, result, doing));
    wand = null;
    return result;
  } finally {
    if (wand) c.DestroyMagickWand(wand);
  }
}

/**
 * How many pixels decoding makes, by the header; Infinity when it cannot be read (the library
 * then says why, watched all the same).
 */
function decodedPixels(bytes: Uint8Array, format: SourceFormat, firstOnly: boolean): number {
  try {
    const source = probeImage(bytes, format);
    return source.width * source.height * (firstOnly ? 1 : source.frames ?? 1);
  } catch {
    return Infinity;
  }
}

/**
 * Reads the bytes and refuses what the decoder complained about. A truncated or damaged
 * file decodes "successfully" into grey or garbage with only a corrupt-image warning, and
 * serving that would cache a broken image; other warnings (an odd ICC profile) are harmless.
 */
function readBlob(api: MagickApi, wand: Wand, bytes: Uint8Array, doing: string): void {
  const { c } = api;
  const read = c.MagickReadImageBlob(wand, bytes, BigInt(bytes.length)) !== 0;
  const onWand = takeException(api, wand);
  const onImage = read ? api.takeImageException(wand) : onWand;
  const worst = onImage.severity > onWand.severity ? onImage : onWand;
  const empty = read && c.MagickGetImageWidth(wand) * c.MagickGetImageHeight(wand) === 0n;
  if (
    !read || empty || worst.severity >= ERROR_EXCEPTION ||
    worst.severity === CORRUPT_IMAGE_WARNING
  ) {
    const reason = worst.message || "no pixels were decoded";
    throw new Unprocessable(`${api.dialect.label} cannot ${doing}: ${reason}`);
  }
}

/**
 * A new wand holding every frame of an animation as it shows: each one composited onto the
 * full canvas over what the previous frames left (their disposal applied), delays and loop
 * count kept. Operations can then treat the frames alike and keep them aligned.
 */
function coalesced(api: MagickApi, wand: Wand): Wand {
  check(api, wand, api.selectImage(wand, 0), "coalesce the frames");
  const frames = api.c.MagickCoalesceImages(wand);
  if (!frames) throw failure(api, wand, "coalesce the frames");
  return frames;
}

/**
 * Brings every source to one shape, so operations and encoders behave the same whatever was
 * read: plain RGB(A) (a CMYK JPEG is converted), no virtual-canvas offset (a GIF frame may
 * have one, and crop and the PNG writer would honour it).
 */
function normalize(api: MagickApi, wand: Wand, doing: string): void {
  check(api, wand, api.ensureRgb(wand), doing);
  check(api, wand, api.c.MagickSetImagePage(wand, 0n, 0n, 0n, 0n), doing);
}
