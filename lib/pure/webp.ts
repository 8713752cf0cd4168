import decodeWebpImage, { init } from "@jsquash/webp/decode.js";
import type { Bitmap } from "../image/bitmap.ts";

let ready: Promise<void> | undefined;

/** Compiles libwebp's WASM decoder once per worker, from the package's own file. */
function loadDecoder(): Promise<void> {
  ready ??= (async () => {
    const url = new URL(import.meta.resolve("@jsquash/webp/codec/dec/webp_dec.wasm"));
    await init(await WebAssembly.compile(await Deno.readFile(url)));
  })();
  return ready;
}

/** Decodes a still WebP (or the first frame of an animated one) into RGBA. */
export async function decodeWebp(bytes: Uint8Array): Promise<Bitmap> {
  await loadDecoder();
  // The decoder takes an ArrayBuffer of its own: a copy, never the shared source.
  const image = await decodeWebpImage(bytes.slice().buffer);
  return {
    width: image.width,
    height: image.height,
    data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength),
  };
}
