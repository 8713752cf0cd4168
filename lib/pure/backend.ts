import type { Backend, Canvas, DecodeOptions } from "../image/backend.ts";
import {
  type Bitmap,
  createBitmap,
  fitWithin,
  hasTransparency,
  type Rect,
  type Size,
} from "../image/bitmap.ts";
import { gaussianBlur } from "../image/blur.ts";
import { blendOver } from "../image/composite.ts";
import { type ColorMatrix, type Rgba, transformSamples } from "../image/color.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import { Unprocessable } from "../errors.ts";
import { resizeBitmap } from "../image/resample.ts";
import { probeImage } from "../image/probe.ts";
import { checkDecodedSize, decodeBitmap } from "./decode.ts";
import { encodeBitmap, warmUpEncoders } from "./encode.ts";
import { type AnimationFrame, decodeGifFrames, encodeGif, gifLoopCount } from "./gif.ts";
import {
  cropBitmap,
  extendBitmap,
  flipBitmap,
  grayscaleBitmap,
  rotateBitmap,
  sharpenBitmap,
} from "./ops.ts";

/**
 * Compiles the codecs before the worker takes jobs: the encoders, and the decoders of the formats
 * sources mostly come in. A cold decoder costs its first job ~0.1 s of compilation, which a spare
 * taking a stopping worker's place cannot afford under a short `http.timeout`.
 */
async function warmUp(): Promise<void> {
  await warmUpEncoders();
  const tiny = createBitmap(16, 16);
  for (const type of ["png", "jpeg", "webp"] as const) {
    await decodeBitmap(await encodeBitmap(tiny, { type, quality: 75 }), type);
  }
}

/**
 * A canvas over RGBA bitmaps in JavaScript memory: one, or every frame of an animation.
 * Each operation applies to every frame and swaps in new bitmaps.
 */
export class BitmapCanvas implements Canvas {
  frames: AnimationFrame[];

  constructor(
    bitmap: Bitmap,
    readonly loops?: number,
    readonly cancel: CancelToken = neverCancelled,
  ) {
    this.frames = [{ bitmap, delayMs: 0 }];
  }

  /** A canvas over the frames of an animation. */
  static animated(
    frames: AnimationFrame[],
    loops?: number,
    cancel?: CancelToken,
  ): BitmapCanvas {
    const canvas = new BitmapCanvas(frames[0].bitmap, loops, cancel);
    canvas.frames = frames;
    return canvas;
  }

  /** The first (or only) frame. */
  get bitmap(): Bitmap {
    return this.frames[0].bitmap;
  }

  get width(): number {
    return this.bitmap.width;
  }

  get height(): number {
    return this.bitmap.height;
  }

  get frameCount(): number {
    return this.frames.length;
  }

  /** Applies `op` to every frame, checking for cancellation before each. */
  #each(op: (bitmap: Bitmap) => Bitmap): void {
    this.frames = this.frames.map((frame) => {
      this.cancel.check();
      return { ...frame, bitmap: op(frame.bitmap) };
    });
  }

  crop(rect: Rect): void {
    this.#each((bitmap) => cropBitmap(bitmap, rect));
  }

  resize(size: Size): void {
    this.#each((bitmap) => resizeBitmap(bitmap, size.width, size.height, this.cancel));
  }

  flip(axis: "h" | "v"): void {
    this.#each((bitmap) => flipBitmap(bitmap, axis));
  }

  rotate(degrees: 90 | 180 | 270): void {
    this.#each((bitmap) => rotateBitmap(bitmap, degrees));
  }

  grayscale(): void {
    this.#each(grayscaleBitmap);
  }

  blur(sigma: number): void {
    this.#each((bitmap) => gaussianBlur(bitmap, sigma, this.cancel));
  }

  extend(size: Size, at: { x: number; y: number }, color: Rgba): void {
    this.#each((bitmap) => extendBitmap(bitmap, size, at, color));
  }

  composite(overlay: Bitmap, at: { x: number; y: number }, opacity: number): void {
    this.#each((bitmap) => {
      const data = bitmap.data.slice();
      const image = { width: bitmap.width, y: 0, rows: bitmap.height };
      blendOver(data, 4, 255, image, overlay, at, opacity);
      return { ...bitmap, data };
    });
  }

  sharpen(sigma: number): void {
    this.#each((bitmap) => sharpenBitmap(bitmap, sigma, this.cancel));
  }

  transformColors(matrix: ColorMatrix): void {
    this.#each((bitmap) => {
      const data = bitmap.data.slice();
      transformSamples(data, 4, 255, matrix);
      return { ...bitmap, data };
    });
  }

  sample(maxSide: number): Bitmap {
    const { width, height } = fitWithin(this.bitmap, maxSide);
    if (width === this.width && height === this.height) {
      return { width, height, data: this.bitmap.data.slice() };
    }
    return resizeBitmap(this.bitmap, width, height);
  }

  hasAlpha(): boolean {
    return this.frames.some(({ bitmap }) => hasTransparency(bitmap));
  }

  dispose(): void {}
}

/**
 * Decodes every frame of a GIF, no more than the header probe counted and at its size: the
 * caller's probe when it counted the frames, else one made here.
 */
async function decodeAnimation(
  bytes: Uint8Array,
  known: DecodeOptions["probed"],
  cancel?: CancelToken,
): Promise<BitmapCanvas> {
  const probed = known?.frames !== undefined ? known : probeImage(bytes, "gif");
  try {
    const frames = await decodeGifFrames(bytes, probed.frames);
    if (frames.length === 0) throw new Error("the GIF has no frames");
    checkDecodedSize(frames[0].bitmap, probed);
    return BitmapCanvas.animated(frames, gifLoopCount(bytes), cancel);
  } catch (error) {
    throw new Unprocessable(`Cannot decode the gif source: ${(error as Error).message}`);
  }
}

/**
 * The default backend: WebAssembly codecs (libjpeg-turbo, ImageScript's decoders, libwebp), gifenc
 * and our own TypeScript pixel code; no native code at all.
 */
export const pureBackend: Backend = {
  name: "pure",
  warmUp,
  decode(bytes, format, options) {
    if (format === "gif" && options.allFrames) {
      return decodeAnimation(bytes, options.probed, options.cancel);
    }
    return decodeBitmap(bytes, format, options.hint, options.probed).then((bitmap) =>
      new BitmapCanvas(bitmap, undefined, options.cancel)
    );
  },
  encode(canvas, format) {
    const { frames, loops, cancel } = canvas as BitmapCanvas;
    cancel.check();
    if (format.type === "gif") return Promise.resolve(encodeGif(frames, loops));
    return encodeBitmap(frames[0].bitmap, format, cancel);
  },
};
