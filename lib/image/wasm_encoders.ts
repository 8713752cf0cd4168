import type { Bitmap } from "./bitmap.ts";
import { encodeAvif } from "./avif.ts";
import type { EncodedType } from "./formats.ts";
import { encodeJxl } from "./jxl.ts";

/**
 * The encoders every backend runs as WebAssembly on the canvas's RGBA pixels, so the bytes
 * agree across backends: AVIF (Debian's ImageMagick writes it slowly through libheif,
 * GraphicsMagick not at all) and JPEG XL (none of the libraries writes it).
 */
export const wasmEncoders: ReadonlyMap<
  EncodedType,
  (bitmap: Bitmap, quality: number) => Promise<Uint8Array<ArrayBuffer>>
> = new Map([
  ["avif", encodeAvif],
  ["jxl", encodeJxl],
]);
