import type { DecodeOptions } from "../image/backend.ts";
import { neverCancelled } from "../image/cancel.ts";
import { Unprocessable } from "../errors.ts";
import type { SourceFormat } from "../image/formats.ts";
import { type ImageInfo, probeImage } from "../image/probe.ts";
import { jpegScale } from "../image/jpeg_scale.ts";
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
import type { MagickLibrary } from "./library.ts";
import { WATCH_MIN_BYTES, watchLongWork } from "./watch.ts";

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
  library: MagickLibrary,
  { hint, allFrames, cancel = neverCancelled, probed }: DecodeOptions,
): Wand {
  const { c } = api;
  let wand: Wand | null = c.NewMagickWand();
  if (!wand) throw new Error(`${api.dialect.label} could not allocate a wand`);
  try {
    const doing = `decode the ${format} source`;
    const firstOnly = !(format === "gif" && allFrames);
    const stored = probed ?? storedSize(bytes, format);
    const scale = hint && stored && format === "jpeg" ? jpegScale(library, stored, hint) : null;
    const made = scale?.decoded ?? stored;
    // Watched when it makes many pixels, or reads many bytes (see WATCH_MIN_BYTES).
    const work = made && bytes.length < WATCH_MIN_BYTES
      ? made.width * made.height * (firstOnly ? 1 : stored?.frames ?? 1)
      : Infinity;
    check(api, wand, watchLongWork(api, wand, cancel, work), doing);
    const name = jobImageName(cancel.job);
    check(api, wand, api.setReadFormat(wand, coders[format], name, firstOnly), doing);
    if (scale) {
      const { width, height } = scale.asked;
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
 * The stored size and frames by the header; undefined when it cannot be read (the library then
 * says why, watched as long as it may take, and reads the JPEG at full size).
 */
function storedSize(bytes: Uint8Array, format: SourceFormat): ImageInfo | undefined {
  try {
    return probeImage(bytes, format);
  } catch {
    return undefined;
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
