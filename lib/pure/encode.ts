import type { Bitmap } from "../image/bitmap.ts";
import type { OutputFormat } from "../image/formats.ts";
import { encodeAvif, warmAvifEncoder } from "../image/avif.ts";
import { parseHexColor } from "../image/color.ts";
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
  await Promise.all([warmUpJpeg(), warmUpWebp(), warmAvifEncoder()]);
}

/**
 * Encodes RGBA as PNG, WebP or AVIF (alpha kept) or JPEG (alpha flattened onto the format's
 * background, white by default); no metadata.
 * A codec failure (a WebAssembly trap or abort included) becomes an ordinary `Error`: an
 * internal error for this one request, never a crash.
 */
export async function encodeBitmap(
  bitmap: Bitmap,
  format: OutputFormat,
): Promise<Uint8Array<ArrayBuffer>> {
  if (format.type === "png") return encodePng(bitmap, PNG_LEVEL);
  try {
    if (format.type === "avif") return await encodeAvif(bitmap, format.quality);
    const background = parseHexColor(format.background ?? "ffffff");
    const encoded = format.type === "webp"
      ? await encodeWebp(bitmap, format.quality, format.lossless ?? false)
      : await encodeJpeg(
        flattenBitmap(bitmap, background),
        format.quality,
        format.progressive ?? false,
      );
    return new Uint8Array(encoded);
  } catch (error) {
    const reason = (error as Error).message;
    throw new Error(
      `The ${format.type} encoder failed on a ${bitmap.width}x${bitmap.height} image: ${reason}`,
    );
  }
}
