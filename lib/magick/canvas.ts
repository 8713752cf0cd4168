import type { Canvas } from "../image/backend.ts";
import { type Bitmap, fitWithin, type Rect, type Size } from "../image/bitmap.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import { cString, type MagickApi, type Wand } from "./api.ts";
import { blurWand, sharpenWand } from "./blur.ts";
import type { ColorMatrix, Rgba } from "../image/color.ts";
import { extendWand } from "./extend.ts";
import { compositeWand } from "./composite.ts";
import { transformWandColors } from "./color.ts";
import { check } from "./exception.ts";
import { eachFrame, firstFrame, frameCount } from "./frames.ts";
import { grayscaleWand } from "./grayscale.ts";
import { jobImageName } from "./interrupt.ts";
import { watchLongWork } from "./watch.ts";
import { withPixelWand } from "./pixel_wand.ts";
import { hasTransparency } from "./pixels.ts";
import { resizeWand, wandRows } from "./resample.ts";
import { resizeRows } from "../image/resample.ts";

/**
 * A canvas over a MagickWand: one image, or every frame of an animation, all of one size.
 * Each operation applies to every frame, and stops between frames (and inside the library's
 * long operations, see `MagickApi.watch`) once `cancel` is cancelled. Native memory until
 * `dispose()`.
 */
export class MagickCanvas implements Canvas {
  #wand: Wand | null;

  constructor(
    readonly api: MagickApi,
    wand: Wand,
    readonly cancel: CancelToken = neverCancelled,
  ) {
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

  get frameCount(): number {
    return frameCount(this.api, this.wand);
  }

  /**
   * Runs `op` on each frame in turn, as the wand's current image, named after the job first:
   * GraphicsMagick's interrupter goes by that name, and some operations lose it.
   */
  /**
   * Runs `op` on each frame, watched for cancellation when it touches many pixels (see
   * `watchLongWork`): the frame's own, or what `work` says for an operation that makes a larger
   * image (Infinity for one whose cost is not in its size).
   */
  #each(op: (wand: Wand) => void, work?: number): void {
    const { api, wand } = this;
    const name = cString(jobImageName(this.cancel.job));
    eachFrame(api, wand, () => {
      this.cancel.check();
      check(api, wand, api.c.MagickSetImageFilename(wand, name), "name the image");
      const pixels = Math.max(work ?? 0, this.width * this.height);
      check(api, wand, watchLongWork(api, wand, this.cancel, pixels), "watch the image");
      op(wand);
    });
  }

  crop(rect: Rect): void {
    const { api } = this;
    const { width, height, x, y } = rect;
    this.#each((wand) => {
      check(
        api,
        wand,
        api.c.MagickCropImage(wand, BigInt(width), BigInt(height), BigInt(x), BigInt(y)),
        "crop",
      );
      // Crop keeps the offset into the old image as a page offset; the next crop would add
      // it, and frames of an animation would no longer line up.
      check(api, wand, api.c.MagickSetImagePage(wand, 0n, 0n, 0n, 0n), "crop");
    });
  }

  resize(size: Size): void {
    this.#each((wand) => resizeWand(this.api, wand, size, this.cancel), size.width * size.height);
  }

  flip(axis: "h" | "v"): void {
    const { c } = this.api;
    this.#each((wand) => {
      // ImageMagick's "flop" mirrors left/right and its "flip" turns upside down.
      const ok = axis === "h" ? c.MagickFlopImage(wand) : c.MagickFlipImage(wand);
      check(this.api, wand, ok, "flip");
    });
  }

  rotate(degrees: 90 | 180 | 270): void {
    const { api } = this;
    // The library turns clockwise; right angles are exact, so the background never shows.
    withPixelWand(api, "none", (background) =>
      this.#each((wand) => {
        check(api, wand, api.c.MagickRotateImage(wand, background, 360 - degrees), "rotate");
        check(api, wand, api.c.MagickSetImagePage(wand, 0n, 0n, 0n, 0n), "rotate");
      }));
  }

  grayscale(): void {
    this.#each((wand) => grayscaleWand(this.api, wand, this.cancel));
  }

  blur(sigma: number): void {
    this.#each((wand) => blurWand(this.api, wand, sigma, this.cancel), Infinity);
  }

  extend(size: Size, at: { x: number; y: number }, color: Rgba): void {
    const pixels = size.width * size.height;
    this.#each((wand) => extendWand(this.api, wand, size, at, color, this.cancel), pixels);
  }

  composite(overlay: Bitmap, at: { x: number; y: number }, opacity: number): void {
    this.#each((wand) => compositeWand(this.api, wand, overlay, at, opacity));
  }

  sharpen(sigma: number): void {
    this.#each((wand) => sharpenWand(this.api, wand, sigma, this.cancel), Infinity);
  }

  transformColors(matrix: ColorMatrix): void {
    this.#each((wand) => transformWandColors(this.api, wand, matrix, this.cancel));
  }

  sample(maxSide: number): Bitmap {
    const { api } = this;
    const { width, height } = fitWithin(this, maxSide);
    const first = this.frameCount === 1 ? this.wand : firstFrame(api, this.wand);
    try {
      return resizeRows(wandRows(api, first), width, height, this.cancel);
    } finally {
      if (first !== this.wand) api.c.DestroyMagickWand(first);
    }
  }

  /** Whether any pixel of any frame is not fully opaque. */
  hasAlpha(): boolean {
    let found = false;
    this.#each((wand) => {
      found ||= hasTransparency(this.api, wand);
    });
    return found;
  }

  dispose(): void {
    if (this.#wand) this.api.c.DestroyMagickWand(this.#wand);
    this.#wand = null;
  }
}
