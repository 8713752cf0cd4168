import jxlEncoder from "@jsquash/jxl/codec/enc/jxl_enc.js";
import { initEmscriptenModule } from "@jsquash/jxl/utils.js";
import type { Bitmap } from "./bitmap.ts";
import { compiledWasm } from "./wasm.ts";

/**
 * libjxl's effort, 1 (fastest) to 9. Measured on the bench photo (bench/formats.ts): the
 * default 7 costs several times a WebP encode; 3 stays near AVIF's cost at AVIF's size class.
 */
export const JXL_EFFORT = 3;

interface JxlModule {
  encode(
    data: Uint8ClampedArray,
    width: number,
    height: number,
    options: Record<string, number | boolean>,
  ): Uint8Array | null;
}

let encoder: Promise<JxlModule> | undefined;

/**
 * libjxl's single-threaded WASM encoder, compiled and instantiated once per worker from the
 * package's own file (the package's `encode.js` would pick its multi-threaded build under
 * Deno, which starts threads of its own). One instance for good: its memory only grows, to
 * ~340 MB for the largest image allowed (`maxEncodePixels`), and stays there, where a fresh
 * instance per image measured 700–900 MB at times for repeated large encodes, waiting for the
 * garbage collector.
 */
function loadEncoder(): Promise<JxlModule> {
  encoder ??= (async () => {
    const module = await compiledWasm("@jsquash/jxl/codec/enc/jxl_enc.wasm");
    return await initEmscriptenModule(jxlEncoder, module) as JxlModule;
  })();
  return encoder;
}

/**
 * Encodes RGBA (alpha kept) as a lossy JPEG XL at quality 1..100. One WebAssembly call that
 * nothing interrupts: planning bounds its pixels (`maxEncodePixels`).
 *
 * @throws {Error} when the encoder fails
 */
export async function encodeJxl(bitmap: Bitmap, quality: number): Promise<Uint8Array<ArrayBuffer>> {
  const jxl = await loadEncoder();
  const data = new Uint8ClampedArray(
    bitmap.data.buffer,
    bitmap.data.byteOffset,
    bitmap.width * bitmap.height * 4,
  );
  const out = jxl.encode(data, bitmap.width, bitmap.height, {
    effort: JXL_EFFORT,
    quality,
    progressive: false,
    epf: -1,
    lossyPalette: false,
    decodingSpeedTier: 0,
    photonNoiseIso: 0,
    lossyModular: false,
    lossless: false,
  });
  if (!out) throw new Error("the JPEG XL encoder failed");
  return new Uint8Array(out);
}
