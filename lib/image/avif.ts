import encodeAvifImage, { init } from "@jsquash/avif/encode.js";
import type { Bitmap } from "./bitmap.ts";

/**
 * libaom's speed, 0 (slowest, smallest) to 10. Measured here on a 400x300 photo: speed 6
 * (the package default) takes ~13x a WebP q75 encode, 8 ~4x, 9 ~2.5x for a file ~5 % larger
 * than at 8; 9 is the fastest setting within the 3x budget that still beats WebP on size.
 */
export const AVIF_SPEED = 9;

let ready: Promise<unknown> | undefined;

/** Compiles the libavif/libaom WASM encoder once per worker, from the package's own file. */
function loadEncoder(): Promise<unknown> {
  ready ??= (async () => {
    const url = new URL(import.meta.resolve("@jsquash/avif/codec/enc/avif_enc.wasm"));
    return await init(await WebAssembly.compile(await Deno.readFile(url)));
  })();
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
 * Compiles the encoder and runs it once on a small image, so the first real request does not
 * pay the ~1 s this costs: called when a worker starts.
 */
export async function warmAvifEncoder(): Promise<void> {
  await encodeAvif({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 4) }, 50);
}
