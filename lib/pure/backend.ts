import type { Backend, Canvas } from "../image/backend.ts";
import type { Bitmap, Rect, Size } from "../image/bitmap.ts";
import { gaussianBlur } from "../image/blur.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import { Unprocessable } from "../errors.ts";
import { resizeBitmap } from "../image/resample.ts";
import { decodeBitmap } from "./decode.ts";
import { encodeBitmap } from "./encode.ts";
import { type AnimationFrame, decodeGifFrames, encodeGif, gifLoopCount } from "./gif.ts";
import { cropBitmap, flipBitmap, grayscaleBitmap, rotateBitmap } from "./ops.ts";

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

  hasAlpha(): boolean {
    return this.frames.some(({ bitmap: { data } }) => {
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return true;
      return false;
    });
  }

  dispose(): void {}
}

/** The default backend: ImageScript's WASM decoders and our own TypeScript pixel code. */
export const pureBackend: Backend = {
  name: "pure",
  async decode(bytes, format, options) {
    if (format === "gif" && options.allFrames) {
      const frames = await decodeGifFrames(bytes).catch((error) => {
        throw new Unprocessable(`Cannot decode the gif source: ${(error as Error).message}`);
      });
      return BitmapCanvas.animated(frames, gifLoopCount(bytes), options.cancel);
    }
    const bitmap = await decodeBitmap(bytes, format, options.hint);
    return new BitmapCanvas(bitmap, undefined, options.cancel);
  },
  encode(canvas, format) {
    const { frames, loops, cancel } = canvas as BitmapCanvas;
    cancel.check();
    if (format.type === "gif") return Promise.resolve(encodeGif(frames, loops));
    return encodeBitmap(frames[0].bitmap, format, cancel);
  },
};
