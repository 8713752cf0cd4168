import smartcropModule from "smartcrop";
import type { Bitmap, Rect, Size } from "../lib/image/bitmap.ts";

/**
 * The side of the sample smartcrop scores: its own prescale target, so its edge, skin and
 * saturation weights mean what they were tuned for, and ~30 ms whatever the image size.
 */
export const SMART_SAMPLE_SIDE = 256;

/** The options we pass: the package's bundled types omit `prescale` and `imageOperations`. */
interface SmartCropOptions {
  width: number;
  height: number;
  minScale: number;
  prescale: boolean;
  imageOperations: typeof bitmapOperations;
}

/** smartcrop's API as we call it: on a bitmap, with our own image operations. */
const smartcrop = smartcropModule as unknown as {
  crop(image: Bitmap, options: SmartCropOptions): Promise<{ topCrop: Rect }>;
};

/** smartcrop's image operations over a bitmap that is already sample-sized: no canvas. */
const bitmapOperations = {
  open: (image: Bitmap) => Promise.resolve(image),
  resample: () => Promise.reject(new Error("The smart crop sample is never resampled")),
  getData: ({ width, height, data }: Bitmap) => Promise.resolve({ width, height, data }),
};

/**
 * The sample as it shows over black: smartcrop scores colour and ignores alpha, and the colour
 * under a transparent pixel is whatever each backend's decoder and resampler left there (a
 * palette's entry, zero), which moved the window from one backend to another.
 */
function opaque({ width, height, data }: Bitmap): Bitmap {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += 4) {
    const alpha = data[i + 3];
    out[i] = (data[i] * alpha + 127) / 255;
    out[i + 1] = (data[i + 1] * alpha + 127) / 255;
    out[i + 2] = (data[i + 2] * alpha + 127) / 255;
    out[i + 3] = 255;
  }
  return { width, height, data: out };
}

/**
 * Where the `box` window goes in an image of `scaled` size, chosen by smartcrop on `sample`
 * (a small copy of that image): the best-scoring window of the box's aspect ratio, its centre
 * mapped back to `scaled` pixels, the window centred there (rounded) and kept inside.
 */
export async function smartWindow(
  sample: Bitmap,
  scaled: Size,
  box: Size,
): Promise<{ x: number; y: number }> {
  const options: SmartCropOptions = {
    width: box.width,
    height: box.height,
    // The largest window of that aspect only: the fill has already scaled the image to cover.
    minScale: 1,
    prescale: false,
    imageOperations: bitmapOperations,
  };
  const { topCrop } = await smartcrop.crop(opaque(sample), options);
  const place = (
    start: number,
    length: number,
    sampleSide: number,
    side: number,
    boxSide: number,
  ) => {
    const centre = ((start + length / 2) * side) / sampleSide;
    return Math.min(side - boxSide, Math.max(0, Math.round(centre - boxSide / 2)));
  };
  return {
    x: place(topCrop.x, topCrop.width, sample.width, scaled.width, box.width),
    y: place(topCrop.y, topCrop.height, sample.height, scaled.height, box.height),
  };
}
