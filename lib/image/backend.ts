import type { Rect, Size } from "./bitmap.ts";
import type { OutputFormat, SourceFormat } from "./formats.ts";

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
  /** Whether any pixel is not fully opaque. */
  hasAlpha(): boolean;
  /** Releases native memory; the canvas is unusable afterwards. */
  dispose(): void;
}

/** What a decoder may use to decode faster: the smallest size the chain needs first. */
export interface DecodeHint {
  /** The decoder may return any size at least this large (keeping the aspect ratio). */
  minSize: Size;
}

export interface DecodeOptions {
  hint?: DecodeHint;
  /** Decode every frame of an animation (GIF output); otherwise only the first. */
  allFrames: boolean;
}

/** An image library: turns bytes into a canvas and a canvas into bytes. */
export interface Backend {
  readonly name: string;
  /** Compiles or loads what the first image would otherwise wait for; optional, idempotent. */
  warmUp?(): Promise<void>;
  decode(bytes: Uint8Array, format: SourceFormat, options: DecodeOptions): Promise<Canvas>;
  /** Encodes as `format`, whose type is never `auto` here. */
  encode(canvas: Canvas, format: OutputFormat): Promise<Uint8Array<ArrayBuffer>>;
}
