import { type Bitmap, createBitmap, hasTransparency } from "../image/bitmap.ts";
import type { CancelToken } from "../image/cancel.ts";
import { type EncodedType, type OutputFormat, PNG_DEFLATE_LEVEL } from "../image/formats.ts";
import { wasmEncoders } from "../image/wasm_encoders.ts";
import { parseHexColor } from "../image/color.ts";
import { encodeJpeg } from "./jpeg.ts";
import { flattenBitmap } from "./ops.ts";
import { encodePng } from "./png.ts";
import { encodeWebp } from "./webp.ts";

/**
 * Compiles the WebAssembly encoders and runs each once on a tiny image, so a worker's first
 * request does not pay for that, and a broken install fails at start. Safe to call again.
 */
export async function warmUpEncoders(): Promise<void> {
  const tiny = createBitmap(16, 16);
  for (const type of ["jpeg", "webp"] as const) {
    await encodeBitmap(tiny, { type, quality: 75 });
  }
}

/**
 * Encodes RGBA as PNG, WebP, AVIF or JPEG XL (alpha kept) or JPEG (alpha flattened onto the format's
 * background, white by default); no metadata.
 * A codec failure (a WebAssembly trap or abort included) becomes an ordinary `Error`: an
 * internal error for this one request, never a crash.
 */
export async function encodeBitmap(
  bitmap: Bitmap,
  format: OutputFormat,
  cancel?: CancelToken,
): Promise<Uint8Array<ArrayBuffer>> {
  if (format.type === "png") return encodePng(bitmap, PNG_DEFLATE_LEVEL, cancel);
  try {
    const wasm = wasmEncoders.get(format.type as EncodedType);
    if (wasm) return await wasm(bitmap, format.quality);
    const background = parseHexColor(format.background ?? "ffffff");
    const encoded = format.type === "webp"
      ? await encodeWebp(bitmap, format.quality, format.lossless ?? false)
      : await encodeJpeg(
        // An opaque image (every JPEG source, say) is its own flattening.
        hasTransparency(bitmap) ? flattenBitmap(bitmap, background) : bitmap,
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
