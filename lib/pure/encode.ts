import type { Bitmap } from "../image/bitmap.ts";
import type { OutputFormat } from "../image/formats.ts";
import { encodeJpeg, warmUpJpeg } from "./jpeg.ts";
import { flattenBitmap } from "./ops.ts";
import { encodePng } from "./png.ts";
import { encodeWebp, warmUpWebp } from "./webp.ts";

/** zlib level for PNG: 6 is zlib's own default balance of size and time. */
const PNG_LEVEL = 6;

/**
 * Compiles the WebAssembly codecs, so the first request of a worker does not pay for it.
 * Safe to call more than once.
 */
export async function warmUpEncoders(): Promise<void> {
  await Promise.all([warmUpJpeg(), warmUpWebp()]);
}

/**
 * Encodes RGBA as PNG or WebP (alpha kept) or JPEG (alpha flattened onto white); no metadata.
 * A codec failure (a WebAssembly trap or abort included) becomes an ordinary `Error`: an
 * internal error for this one request, never a crash.
 */
export async function encodeBitmap(
  bitmap: Bitmap,
  format: OutputFormat,
): Promise<Uint8Array<ArrayBuffer>> {
  if (format.type === "png") return encodePng(bitmap, PNG_LEVEL);
  try {
    const encoded = format.type === "webp"
      ? await encodeWebp(bitmap, format.quality, format.lossless ?? false)
      : await encodeJpeg(flattenBitmap(bitmap), format.quality, format.progressive ?? false);
    return new Uint8Array(encoded);
  } catch (error) {
    const reason = (error as Error).message;
    throw new Error(
      `The ${format.type} encoder failed on a ${bitmap.width}x${bitmap.height} image: ${reason}`,
    );
  }
}
