import type { Canvas } from "../backend.ts";
import type { Rect, Size } from "../bitmap.ts";
import type { MagickApi, Wand } from "./api.ts";
import { blurWand } from "./blur.ts";
import { check } from "./exception.ts";
import { grayscaleWand } from "./grayscale.ts";
import { withPixelWand } from "./pixel_wand.ts";
import { hasTransparency } from "./pixels.ts";

/** A canvas over one image in a MagickWand; native memory until `dispose()`. */
export class MagickCanvas implements Canvas {
  #wand: Wand | null;

  constructor(readonly api: MagickApi, wand: Wand) {
    this.#wand = wand;
  }

  /** The wand, for the encoder. @throws {Error} once the canvas is disposed */
  get wand(): Wand {
    if (!this.#wand) throw new Error("The canvas was disposed");
    return this.#wand;
  }

  get width(): number {
    return Number(this.api.c.MagickGetImageWidth(this.wand));
  }

  get height(): number {
    return Number(this.api.c.MagickGetImageHeight(this.wand));
  }

  crop(rect: Rect): void {
    const { c } = this.api;
    const { wand } = this;
    const { width, height, x, y } = rect;
    check(
      this.api,
      wand,
      c.MagickCropImage(wand, BigInt(width), BigInt(height), BigInt(x), BigInt(y)),
      "crop",
    );
    // Crop keeps the offset into the old image as a page offset; the next crop would add it.
    check(this.api, wand, c.MagickSetImagePage(wand, 0n, 0n, 0n, 0n), "crop");
  }

  resize(size: Size): void {
    check(this.api, this.wand, this.api.resize(this.wand, size.width, size.height), "resize");
  }

  flip(axis: "h" | "v"): void {
    const { c } = this.api;
    // ImageMagick's "flop" mirrors left/right and its "flip" turns upside down.
    const ok = axis === "h" ? c.MagickFlopImage(this.wand) : c.MagickFlipImage(this.wand);
    check(this.api, this.wand, ok, "flip");
  }

  rotate(degrees: 90 | 180 | 270): void {
    const { wand } = this;
    // The library turns clockwise; right angles are exact, so the background never shows.
    const ok = withPixelWand(
      this.api,
      "none",
      (background) => this.api.c.MagickRotateImage(wand, background, 360 - degrees),
    );
    check(this.api, wand, ok, "rotate");
    check(this.api, wand, this.api.c.MagickSetImagePage(wand, 0n, 0n, 0n, 0n), "rotate");
  }

  grayscale(): void {
    grayscaleWand(this.api, this.wand);
  }

  blur(sigma: number): void {
    blurWand(this.api, this.wand, sigma);
  }

  /** Only the first frame is decoded on the magick backends. */
  readonly frameCount = 1;

  hasAlpha(): boolean {
    return hasTransparency(this.api, this.wand);
  }

  dispose(): void {
    if (this.#wand) this.api.c.DestroyMagickWand(this.#wand);
    this.#wand = null;
  }
}
