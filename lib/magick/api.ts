import type { CancelToken } from "../image/cancel.ts";
import type { Dialect } from "./dialects.ts";
import type { commonSymbols, effectSymbols } from "./symbols.ts";

/** A `MagickWand *` (never null once created). */
export type Wand = Deno.PointerObject;

/** What a library reported on a wand or an image. */
export interface WandException {
  /** The C `ExceptionType`: 0 none, 300–399 warnings, 400 and up errors. */
  severity: number;
  message: string;
}

/** The functions every wand library has with the same name and ABI. */
export type CommonSymbols = Deno.DynamicLibrary<
  typeof commonSymbols & typeof effectSymbols
>["symbols"];

/**
 * One opened wand library. `c` holds the functions all libraries share; the methods cover
 * what each family does its own way. Methods that can fail return the C success flag; the
 * caller reads the wand's exception for the reason.
 */
export interface MagickApi {
  readonly dialect: Dialect;
  readonly c: CommonSymbols;
  /**
   * Makes the next read use this coder ("PNG", "JPEG"…) and no other, whatever the bytes
   * look like: left to sniff, the libraries would run their SVG, MVG or PostScript (through
   * Ghostscript) coders on a file that merely claims to be a PNG. The images read are named
   * `name`; with `firstOnly`, only the first page or frame is decoded (the libraries' `[0]`
   * subimage syntax), not merely kept.
   */
  setReadFormat(wand: Wand, coder: string, name: string, firstOnly: boolean): boolean;
  /**
   * Makes the wand's long operations (reading, resize, blur…) stop once `cancel` is
   * cancelled: ImageMagick through a progress monitor on the wand, read by this worker's own
   * thread; GraphicsMagick through the images' names and the pool's process-wide monitor
   * (lib/magick/interrupt.ts), so nothing is needed here. Call before reading; later calls
   * change the current image's monitor, and a never-cancelled token removes it.
   */
  watch(wand: Wand, cancel: CancelToken): boolean;
  /** Lets the JPEG decoder shrink by a DCT scale while staying at least this large. */
  setDecodeSize(wand: Wand, width: number, height: number): boolean;
  /**
   * Takes what a decoder recorded on the current image itself rather than on the wand
   * (ImageMagick 6 does that, even for "not a JPEG file"); none elsewhere.
   */
  takeImageException(wand: Wand): WandException;
  /** Makes the image at `index` the one that operations act on. */
  selectImage(wand: Wand, index: number): boolean;
  /** Converts a CMYK image to RGB; other images are left alone. */
  ensureRgb(wand: Wand): boolean;
  hasAlpha(wand: Wand): boolean;
  /**
   * Copies rows out as samples in `map` order ("RGB" or "RGBA"), 16-bit or 8-bit as `out` is:
   * whole rows, or only the columns of `span`.
   */
  exportRows(
    wand: Wand,
    y: number,
    rows: number,
    map: string,
    out: Samples,
    span?: Span,
  ): boolean;
  /**
   * Overwrites rows (whole, or only the columns of `span`) from samples in `map` order, 16-bit
   * or 8-bit as `data` is ("P" in `map` skips a sample).
   */
  importRows(
    wand: Wand,
    y: number,
    rows: number,
    map: string,
    data: Samples,
    span?: Span,
  ): boolean;
  /** Lanczos3 resample to exactly this size. */
  resize(wand: Wand, width: number, height: number): boolean;
  /**
   * Gaussian blur of all channels (see `Dialect.blurWeightsAlpha` and `blankImage`). A
   * separable blur: the libraries' "Gaussian blur" is the same filter as a 2-D kernel, 4–35×
   * slower.
   */
  blur(wand: Wand, sigma: number): boolean;
  /**
   * Only where blur does not repeat the edge pixels past the border (GraphicsMagick drops the
   * kernel's outside taps and rescales the rest, so edges blur less than on the other
   * backends): a new wand holding one blank image, transparent when `alpha`, black otherwise,
   * or null. The blur then runs on a copy framed by repeated edge pixels. The image is named
   * `name`, the job's (see lib/magick/interrupt.ts), so it can be interrupted.
   */
  blankImage?(width: number, height: number, alpha: boolean, name: string): Deno.PointerValue;
  setQuality(wand: Wand, quality: number): boolean;
  /** Sets an encoder option such as WebP's `lossless`, for the next write. */
  setCoderOption(wand: Wand, coder: string, key: string, value: string): boolean;
  /**
   * Keeps JPEG output in colour after the grayscale filter: ImageMagick otherwise writes a
   * one-channel JPEG whenever every pixel is grey.
   */
  keepTrueColor(wand: Wand): boolean;
  /**
   * Only where strip leaves text behind (GraphicsMagick keeps text attributes, which its PNG
   * writer turns into tEXt chunks: author, dates, TIFF tags): a new wand holding a copy of
   * the pixels alone, or null.
   */
  copyPixels?(wand: Wand): Deno.PointerValue;
  /** A new wand holding the image composited onto its background colour, or null. */
  flatten(wand: Wand): Deno.PointerValue;
  /** Encodes in the image's format; the result must go to `MagickRelinquishMemory`. */
  writeBlob(wand: Wand, length: BigUint64Array): Deno.PointerValue;
}

/** Pixel samples as they cross into or out of a library: 16-bit keeps a Q16 image's precision. */
export type Samples = Uint16Array | Uint8Array;

/** The `StorageType` of `samples` in the library's own numbering. */
export function storageOf(dialect: Dialect, samples: Samples): number {
  return samples instanceof Uint8Array ? dialect.charPixel : dialect.shortPixel;
}

/** Columns `x` to `x + width` of an image. */
export interface Span {
  x: number;
  width: number;
}

/**
 * The x, y, columns and rows arguments of the libraries' pixel export and import for `rows` rows
 * from `y` (whole, or `span`'s columns), checked to lie inside the image and to fit `samples`
 * in `map` order before the library writes or reads that many.
 *
 * @throws {RangeError} when they do not: a bug in the caller, never the client's input
 */
export function pixelRegion(
  c: Pick<CommonSymbols, "MagickGetImageWidth" | "MagickGetImageHeight">,
  wand: Wand,
  y: number,
  rows: number,
  map: string,
  samples: Samples,
  span?: Span,
): [bigint, bigint, bigint, bigint] {
  const imageWidth = Number(c.MagickGetImageWidth(wand));
  const imageHeight = Number(c.MagickGetImageHeight(wand));
  const { x, width } = span ?? { x: 0, width: imageWidth };
  const inside = [x, y, width, rows].every(Number.isInteger) && x >= 0 && y >= 0 &&
    width > 0 && rows > 0 && x + width <= imageWidth && y + rows <= imageHeight;
  if (!inside || samples.length < width * rows * map.length) {
    throw new RangeError(
      `${width}x${rows} pixels at ${x},${y} of a ${imageWidth}x${imageHeight} image into ${samples.length} samples`,
    );
  }
  return [BigInt(x), BigInt(y), BigInt(width), BigInt(rows)];
}

/** A NUL-terminated C string for a `const char *` argument. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}
