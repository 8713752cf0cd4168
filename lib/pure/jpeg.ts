import encodeMozjpeg, { init } from "@jsquash/jpeg/encode.js";
import type { Bitmap } from "../image/bitmap.ts";
import { asImageData, runCodec } from "../image/wasm.ts";

const MOZJPEG = "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm";

/** From this quality up, chroma is kept at full resolution (4:4:4), as libjpeg tools do. */
const FULL_CHROMA_QUALITY = 90;

/**
 * Encodes opaque RGBA as a JPEG with mozjpeg (WebAssembly): 4:2:0 chroma below quality 90,
 * 4:4:4 from 90, optimised Huffman tables, progressive when asked. Alpha is ignored.
 */
export async function encodeJpeg(
  bitmap: Bitmap,
  quality: number,
  progressive: boolean,
): Promise<ArrayBuffer> {
  // A fresh instance per image: its memory (which grows with the image) goes with it.
  return await runCodec(init, MOZJPEG, () =>
    encodeMozjpeg(asImageData(bitmap), {
      quality,
      baseline: false,
      progressive,
      optimize_coding: true,
      // mozjpeg's automatic choice is 4:2:2 at usual qualities; 2 means 2x2 (4:2:0), 1 is none.
      auto_subsample: false,
      chroma_subsample: quality >= FULL_CHROMA_QUALITY ? 1 : 2,
    }));
}
