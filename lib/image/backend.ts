import type { Bitmap, Rect, Size } from "./bitmap.ts";
import type { CancelToken } from "./cancel.ts";
import type { ColorMatrix, Rgba } from "./color.ts";
import type { OutputFormat, SourceFormat } from "./formats.ts";
import type { ImageInfo } from "./probe.ts";

/**
 * One decoded image held by a backend. Filters change it in place through these primitive
 * operations; the geometry (which size, which rectangle) is decided by the filter, so every
 * backend produces outputs of the same size.
 */
export interface Canvas {
  readonly width: number;
  readonly height: number;
  /** 1 for a still image; the frames of an animation otherwise. */
  readonly frameCount: number;
  /** Keeps only `rect`, which lies inside the image. */
  crop(rect: Rect): void;
  /** Resamples to exactly `size` with an anti-aliased (Lanczos3) filter. */
  resize(size: Size): void;
  /** `h` mirrors left/right, `v` turns upside down. */
  flip(axis: "h" | "v"): void;
  /** Rotates counter-clockwise by a multiple of 90 degrees. */
  rotate(degrees: 90 | 180 | 270): void;
  /** Sets R = G = B = 0.299R + 0.587G + 0.114B; alpha is kept; the image stays RGB. */
  grayscale(): void;
  /** Gaussian blur with standard deviation `sigma` in pixels (sigma > 0). */
  blur(sigma: number): void;
  /**
   * Grows the canvas to `size`, the image's top-left corner at `at` (the image lies inside),
   * every new pixel exactly `color`; the image's own pixels are kept as they are.
   */
  extend(size: Size, at: { x: number; y: number }, color: Rgba): void;
  /**
   * Draws `overlay` (straight RGBA) over the image with its top-left corner at `at`, its alpha
   * multiplied by `opacity` (0..1); parts outside the image are dropped (see `blendOver`).
   */
  composite(overlay: Bitmap, at: { x: number; y: number }, opacity: number): void;
  /** Applies an affine colour transform to R, G and B; alpha is kept (see `transformSamples`). */
  transformColors(matrix: ColorMatrix): void;
  /**
   * Unsharp mask: C' = C + (C − G), G the Gaussian blur of standard deviation `sigma` (as
   * `blur`), on R, G and B, rounded and clamped; alpha is kept.
   */
  sharpen(sigma: number): void;
  /**
   * A copy of the first frame as straight 8-bit RGBA, shrunk with `resize`'s filter (aspect
   * kept, sides rounded, at least 1) when its longer side exceeds `maxSide`; the canvas is
   * unchanged. For decisions made in TypeScript (smart crops) and for encoders the library
   * lacks (AVIF). Asynchronous where the library is (vips).
   */
  sample(maxSide: number): Bitmap | Promise<Bitmap>;
  /**
   * Whether any pixel is not fully opaque. A backend whose library works asynchronously (vips)
   * queues the primitives above and answers once it has run them.
   */
  hasAlpha(): boolean | Promise<boolean>;
  /** Releases native memory; the canvas is unusable afterwards. */
  dispose(): void;
}

/**
 * How far a decoder shrinks on load (`image.shrinkOnLoad`): `fast`, the largest reduction that
 * still covers the size the chain needs (as sharp, imgproxy and thumbor do), or `quality`,
 * which keeps a margin above it so the Lanczos resize that follows has more pixels to average
 * (less aliasing on fine patterns, a little more CPU).
 */
export type ShrinkOnLoad = "fast" | "quality";
export const shrinkOnLoadPolicies: readonly ShrinkOnLoad[] = ["fast", "quality"];

/** What a decoder may use to decode faster: the smallest size the chain needs first. */
export interface DecodeHint {
  /** The decoder may return any size at least this large (keeping the aspect ratio). */
  minSize: Size;
  /** How far it shrinks towards `minSize`; `fast` when absent. */
  shrinkOnLoad?: ShrinkOnLoad;
  /**
   * How many times `minSize` a shrinking decoder should stay at least, so the resize after it
   * still has pixels to average; the policy's margin when absent. `info`, which only
   * looks at a 100 px sample of the result, gives 1.
   */
  margin?: number;
}

export interface DecodeOptions {
  hint?: DecodeHint;
  /**
   * What the caller's header probe of these bytes found (`probeImage`), so a decoder that needs
   * the stored size or frame count does not walk the file again; it probes when absent.
   */
  probed?: Pick<ImageInfo, "width" | "height" | "frames" | "bitDepth">;
  /** Decode every frame of an animation (GIF output); otherwise only the first. */
  allFrames: boolean;
  /**
   * When the job gives up (`Date.now()` milliseconds): a backend whose library can stop its
   * own work (vips) stops it then, so an abandoned job stops using CPU.
   */
  deadline?: number;
  /**
   * Stops the work once the job is cancelled: the canvas keeps it for its operations and its
   * encoding, which then throw `Cancelled`. Without it, nothing stops early.
   */
  cancel?: CancelToken;
}

/** An image library: turns bytes into a canvas and a canvas into bytes. */
export interface Backend {
  readonly name: string;
  /**
   * The largest side of any image this backend can make, when its library has a limit of its
   * own below the formats' (ImageMagick's policy): planning refuses larger ones up front.
   */
  readonly maxSide?: number;
  /**
   * `libjpeg` when its JPEG decoder is libjpeg, which refuses a second scan in a sequential
   * file: the worker then counts only the scans it will read (see `ProbeDepth`).
   */
  readonly jpegDecoder?: "libjpeg";
  /** Compiles or loads what the first image would otherwise wait for; optional, idempotent. */
  warmUp?(): Promise<void>;
  decode(bytes: Uint8Array, format: SourceFormat, options: DecodeOptions): Promise<Canvas>;
  /** Encodes as `format`, whose type is never `auto` here. */
  encode(canvas: Canvas, format: OutputFormat): Promise<Uint8Array<ArrayBuffer>>;
}
