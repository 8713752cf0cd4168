import codecs from "imagescript/codecs/node/index.js";
import type { Bitmap } from "../image/bitmap.ts";
import type { CancelToken } from "../image/cancel.ts";
import type { OutputFormat } from "../image/formats.ts";
import { flattenBitmap } from "./ops.ts";
import { encodePng } from "./png.ts";

/** zlib level for PNG: 6 is zlib's own default balance of size and time. */
const PNG_LEVEL = 6;

/**
 * Encodes RGBA as PNG or WebP (alpha kept) or JPEG (alpha flattened onto white); no metadata.
 */
export async function encodeBitmap(
  bitmap: Bitmap,
  format: OutputFormat,
  cancel?: CancelToken,
): Promise<Uint8Array<ArrayBuffer>> {
  const { width, height } = bitmap;
  if (format.type === "png") {
    return encodePng(bitmap, PNG_LEVEL, cancel);
  }
  if (format.type === "webp") {
    const quality = format.lossless ? null : format.quality;
    return await codecs.webp.encode_async(bitmap.data, { width, height, quality });
  }
  const opaque = flattenBitmap(bitmap);
  return await codecs.jpeg.encode_async(opaque.data, { width, height, quality: format.quality });
}
