import type { Backend, Canvas } from "../backend.ts";
import type { Bitmap, Rect, Size } from "../bitmap.ts";
import { gaussianBlur } from "../blur.ts";
import { resizeBitmap } from "../resample.ts";
import { decodeBitmap } from "./decode.ts";
import { encodeBitmap } from "./encode.ts";
import { cropBitmap, flipBitmap, grayscaleBitmap, rotateBitmap } from "./ops.ts";

/** A canvas over an RGBA bitmap in JavaScript memory; each operation swaps in a new bitmap. */
export class BitmapCanvas implements Canvas {
  constructor(public bitmap: Bitmap) {}

  get width(): number {
    return this.bitmap.width;
  }

  get height(): number {
    return this.bitmap.height;
  }

  crop(rect: Rect): void {
    this.bitmap = cropBitmap(this.bitmap, rect);
  }

  resize(size: Size): void {
    this.bitmap = resizeBitmap(this.bitmap, size.width, size.height);
  }

  flip(axis: "h" | "v"): void {
    this.bitmap = flipBitmap(this.bitmap, axis);
  }

  rotate(degrees: 90 | 180 | 270): void {
    this.bitmap = rotateBitmap(this.bitmap, degrees);
  }

  grayscale(): void {
    this.bitmap = grayscaleBitmap(this.bitmap);
  }

  blur(sigma: number): void {
    this.bitmap = gaussianBlur(this.bitmap, sigma);
  }

  hasAlpha(): boolean {
    const data = this.bitmap.data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return true;
    return false;
  }

  dispose(): void {}
}

/** The default backend: ImageScript's WASM decoders and our own TypeScript pixel code. */
export const pureBackend: Backend = {
  name: "pure",
  async decode(bytes, format, hint) {
    return new BitmapCanvas(await decodeBitmap(bytes, format, hint));
  },
  encode(canvas, format) {
    return encodeBitmap((canvas as BitmapCanvas).bitmap, format);
  },
};
