import encodeAvifImage, { init } from "@jsquash/avif/encode.js";
import type { Bitmap } from "./bitmap.ts";
import { compiledWasm } from "./wasm.ts";

/**
 * libaom's speed, 0 (slowest, smallest) to 10. Measured here on 400x300 photos: speed 6 (the
 * package default) costs 13–25x a WebP q75 encode, 8 about 4x, 9 1.4–2.8x (bench/formats.ts)
 * for a file within a few percent of speed 8's; 10 gave the same bytes as 9. So 9: within the
 * 3x budget, and still about half WebP's size.
 */
export const AVIF_SPEED = 9;

let ready: Promise<unknown> | undefined;

/** Compiles the libavif/libaom WASM encoder once per worker (`compiledWasm`). */
function loadEncoder(): Promise<unknown> {
  ready ??= compiledWasm("@jsquash/avif/codec/enc/avif_enc.wasm").then((module) => init(module));
  return ready;
}

/** Encodes RGBA (alpha kept) as a still AVIF, 8 bits, 4:2:0, at quality 1..100. */
export async function encodeAvif(
  bitmap: Bitmap,
  quality: number,
): Promise<Uint8Array<ArrayBuffer>> {
  await loadEncoder();
  // The encoder reads its input's whole buffer: give it one of exactly the pixels.
  const image = new ImageData(new Uint8ClampedArray(bitmap.data), bitmap.width, bitmap.height);
  return new Uint8Array(await encodeAvifImage(image, { quality, speed: AVIF_SPEED }));
}

/**
 * Compiles and instantiates the encoder (~80 ms of CPU), so the first AVIF request of a worker
 * does not pay for that: called when a worker starts. A trial encode would also take its
 * code's first run (~100 ms more) off that request, but at the start of every worker (spares
 * included) it competed for the CPU with the requests being served.
 */
export async function warmAvifEncoder(): Promise<void> {
  await loadEncoder();
}
