import type { Size } from "../image/bitmap.ts";
import type { CancelToken } from "../image/cancel.ts";
import { resizeRows, type RowSource } from "../image/resample.ts";
import type { MagickApi, Wand } from "./api.ts";
import { check } from "./exception.ts";
import { STRIP_SAMPLES } from "./pixels.ts";

/**
 * Resizes the wand's current image to `size` with Lanczos3. A shrink runs on the shared
 * resampler (lib/image/resample.ts, the pure backend's, in WebAssembly SIMD): the libraries'
 * own Lanczos computes in double precision, and with it W2's job took twice the CPU and W1's
 * 10–30% more (docs/performance.md). Its result is the same filter on the same 8-bit samples
 * (the encoders write 8 bits anyway). A
 * growth stays with the library: the resampler's result is a full 8-bit copy beside the image,
 * which a shrink's plan covers (it is smaller than the input) but a growth's does not.
 *
 * @throws {Unprocessable} when the library cannot read, size or write the pixels
 * @throws {Cancelled} when `cancel` is cancelled while resampling
 */
export function resizeWand(api: MagickApi, wand: Wand, size: Size, cancel: CancelToken): void {
  const width = Number(api.c.MagickGetImageWidth(wand));
  const height = Number(api.c.MagickGetImageHeight(wand));
  if (size.width > width || size.height > height) {
    check(api, wand, api.resize(wand, size.width, size.height), "resize");
    return;
  }
  const resized = resizeRows(wandRows(api, wand), size.width, size.height, cancel);
  // Cropping to the new size keeps everything the image carries besides its pixels (frame
  // delay, colour space, matte), which the import then overwrites, every one of them. (A
  // sample would do as well, at 10x the cost on ImageMagick: 5.3 against 0.5 ms to 400x400.)
  const { c } = api;
  const sized = c.MagickCropImage(wand, BigInt(size.width), BigInt(size.height), 0n, 0n) &&
    c.MagickSetImagePage(wand, 0n, 0n, 0n, 0n);
  check(api, wand, sized, "resize");
  const map = api.hasAlpha(wand) ? "RGBA" : api.dialect.opaqueRgbaMap;
  check(api, wand, api.importRows(wand, 0, size.height, map, resized.data), "resize");
}

/**
 * The wand's current image as 8-bit RGBA rows (opaque when it has no alpha), exported a strip
 * at a time as the resampler moves down the image.
 *
 * @throws {Unprocessable} when the library cannot read the pixels
 */
export function wandRows(api: MagickApi, wand: Wand): RowSource {
  const width = Number(api.c.MagickGetImageWidth(wand));
  const height = Number(api.c.MagickGetImageHeight(wand));
  const stride = width * 4;
  const rowsPerStrip = Math.max(1, Math.floor(STRIP_SAMPLES / stride));
  const strip = new Uint8Array(Math.min(rowsPerStrip, height) * stride);
  let first = 0;
  let count = 0;
  return {
    width,
    height,
    read(y) {
      if (y < first || y >= first + count) {
        first = y;
        count = Math.min(rowsPerStrip, height - y);
        const samples = strip.subarray(0, count * stride);
        check(api, wand, api.exportRows(wand, y, count, "RGBA", samples), "read the pixels");
      }
      return strip.subarray((y - first) * stride, (y - first + 1) * stride);
    },
  };
}
