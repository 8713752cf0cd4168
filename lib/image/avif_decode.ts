import decodeAvifImage, { init } from "@jsquash/avif/decode.js";
import type { Bitmap, Size } from "./bitmap.ts";
import { compiledWasm } from "./wasm.ts";

let ready: Promise<unknown> | undefined;

/** Compiles libavif's (dav1d) WASM decoder once per worker (`compiledWasm`). */
function loadDecoder(): Promise<unknown> {
  ready ??= compiledWasm("@jsquash/avif/codec/dec/avif_dec.wasm").then((module) => init(module));
  return ready;
}

/**
 * Decodes the primary image of a still AVIF as 8-bit straight RGBA through libavif's
 * WebAssembly build, for backends whose library cannot read AVIF. `probed` is the size the
 * header said (and the limits saw): any other decoded size is refused.
 *
 * @throws {Error} when libavif cannot decode the bytes or finds another size
 */
export async function decodeAvif(bytes: Uint8Array, probed: Size): Promise<Bitmap> {
  await loadDecoder();
  // A copy in a plain ArrayBuffer: the source may live in shared memory, which the glue refuses.
  const image = await decodeAvifImage(bytes.slice().buffer);
  if (!image) throw new Error("libavif could not decode the image");
  if (image.width !== probed.width || image.height !== probed.height) {
    throw new Error(
      `the decoder found ${image.width}x${image.height} pixels where the header says ${probed.width}x${probed.height}`,
    );
  }
  const { data } = image;
  return {
    width: image.width,
    height: image.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}
