import decodeWebpImage, { init as initDecoder } from "@jsquash/webp/decode.js";
import encodeWebpImage, { init as initEncoder } from "@jsquash/webp/encode.js";
import type { Bitmap } from "../image/bitmap.ts";
import { asImageData, runCodec } from "../image/wasm.ts";

const DECODER = "@jsquash/webp/codec/dec/webp_dec.wasm";
// The package's glue picks its SIMD build whenever the engine has WebAssembly SIMD, as V8 in
// Deno always does; the module handed to it must be that build.
const ENCODER = "@jsquash/webp/codec/enc/webp_enc_simd.wasm";

/** Decodes a still WebP (or the first frame of an animated one) into RGBA. */
export async function decodeWebp(bytes: Uint8Array): Promise<Bitmap> {
  // The decoder takes an ArrayBuffer of its own: a copy, never the shared source.
  const image = await runCodec(initDecoder, DECODER, () => decodeWebpImage(bytes.slice().buffer));
  return {
    width: image.width,
    height: image.height,
    data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength),
  };
}

/**
 * Encodes RGBA as WebP with libwebp (WebAssembly), alpha kept: lossy at `quality`, or lossless
 * with the colour under fully transparent pixels kept too, so the pixels round-trip exactly.
 */
export async function encodeWebp(
  bitmap: Bitmap,
  quality: number,
  lossless: boolean,
): Promise<ArrayBuffer> {
  // A fresh instance per image: its memory (which grows with the image) goes with it.
  return await runCodec(initEncoder, ENCODER, () =>
    encodeWebpImage(asImageData(bitmap), {
      quality,
      lossless: lossless ? 1 : 0,
      exact: lossless ? 1 : 0,
    }));
}
