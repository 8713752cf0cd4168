import type { Backend, Canvas } from "../image/backend.ts";
import type { Bitmap, Rect, Size } from "../image/bitmap.ts";
import { gaussianBlur } from "../image/blur.ts";
import { Unprocessable } from "../errors.ts";
import { resizeBitmap } from "../image/resample.ts";
import { probeImage } from "../image/probe.ts";
import { checkDecodedSize, decodeBitmap } from "./decode.ts";
import { encodeBitmap, warmUpEncoders } from "./encode.ts";
import { type AnimationFrame, decodeGifFrames, encodeGif, gifLoopCount } from "./gif.ts";
import { cropBitmap, flipBitmap, grayscaleBitmap, rotateBitmap } from "./ops.ts";

/**
 * A canvas over RGBA bitmaps in JavaScript memory: one, or every frame of an animation.
 * Each operation applies to every frame and swaps in new bitmaps.
 */
export class BitmapCanvas implements Canvas {
  frames: AnimationFrame[];

  constructor(bitmap: Bitmap, readonly loops?: number) {
    this.frames = [{ bitmap, delayMs: 0 }];
  }

  /** A canvas over the frames of an animation. */
  static animated(frames: AnimationFrame[], loops?: number): BitmapCanvas {
    const canvas = new BitmapCanvas(frames[0].bitmap, loops);
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

  #each(op: (bitmap: Bitmap) => Bitmap): void {
    this.frames = this.frames.map((frame) => ({ ...frame, bitmap: op(frame.bitmap) }));
  }

  crop(rect: Rect): void {
    this.#each((bitmap) => cropBitmap(bitmap, rect));
  }

  resize(size: Size): void {
    this.#each((bitmap) => resizeBitmap(bitmap, size.width, size.height));
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
    this.#each((bitmap) => gaussianBlur(bitmap, sigma));
  }

  hasAlpha(): boolean {
    return this.frames.some(({ bitmap: { data } }) => {
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return true;
      return false;
    });
  }

  dispose(): void {}
}

/** Decodes every frame of a GIF, no more than the header probe counted and at its size. */
async function decodeAnimation(bytes: Uint8Array): Promise<BitmapCanvas> {
  const probed = probeImage(bytes, "gif");
  try {
    const frames = await decodeGifFrames(bytes, probed.frames);
    if (frames.length === 0) throw new Error("the GIF has no frames");
    checkDecodedSize(frames[0].bitmap, probed);
    return BitmapCanvas.animated(frames, gifLoopCount(bytes));
  } catch (error) {
    throw new Unprocessable(`Cannot decode the gif source: ${(error as Error).message}`);
  }
}

/**
 * The default backend: WebAssembly codecs (ImageScript's decoders, libwebp, mozjpeg), gifenc
 * and our own TypeScript pixel code; no native code at all.
 */
export const pureBackend: Backend = {
  name: "pure",
  warmUp: warmUpEncoders,
  decode(bytes, format, options) {
    if (format === "gif" && options.allFrames) return decodeAnimation(bytes);
    return decodeBitmap(bytes, format, options.hint).then((bitmap) => new BitmapCanvas(bitmap));
  },
  encode(canvas, format) {
    const { frames, loops } = canvas as BitmapCanvas;
    if (format.type === "gif") return Promise.resolve(encodeGif(frames, loops));
    return encodeBitmap(frames[0].bitmap, format);
  },
};
