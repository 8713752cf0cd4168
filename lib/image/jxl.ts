import jxlEncoder from "@jsquash/jxl/codec/enc/jxl_enc.js";
import { initEmscriptenModule } from "@jsquash/jxl/utils.js";
import type { Bitmap } from "./bitmap.ts";

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

let ready: Promise<JxlModule> | undefined;

/**
 * Compiles libjxl's single-threaded WASM encoder once per worker, from the package's own
 * file. The package's `encode.js` would pick its multi-threaded build under Deno, which
 * starts threads of its own; the pool gives each worker one thread.
 */
function loadEncoder(): Promise<JxlModule> {
  ready ??= (async () => {
    const url = new URL(import.meta.resolve("@jsquash/jxl/codec/enc/jxl_enc.wasm"));
    const module = await WebAssembly.compile(await Deno.readFile(url));
    return await initEmscriptenModule(jxlEncoder, module) as JxlModule;
  })();
  return ready;
}

/**
 * Encodes RGBA (alpha kept) as a lossy JPEG XL at quality 1..100. One WebAssembly call that
 * nothing interrupts: planning bounds its pixels (`maxEncodePixels`).
 *
 * @throws {Error} when the encoder fails
 */
export async function encodeJxl(bitmap: Bitmap, quality: number): Promise<Uint8Array<ArrayBuffer>> {
  const encoder = await loadEncoder();
  const data = new Uint8ClampedArray(
    bitmap.data.buffer,
    bitmap.data.byteOffset,
    bitmap.width * bitmap.height * 4,
  );
  const out = encoder.encode(data, bitmap.width, bitmap.height, {
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
