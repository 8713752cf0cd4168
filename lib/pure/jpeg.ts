import factory from "@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs";
import type { Bitmap } from "../image/bitmap.ts";
import { jpegFullChroma, maxSides } from "../image/formats.ts";
import { compiledWasm } from "../image/wasm.ts";

/** libjpeg-turbo 3.2's TurboJPEG encoder (WebAssembly, no SIMD), with its Emscripten glue. */
const MODULE = "@cornerstonejs/codec-libjpeg-turbo-8bit/wasm";

const TJSAMP_444 = 0;
const TJSAMP_420 = 2;
/** JPEG's largest side (libjpeg's limit). */
const MAX_SIDE = maxSides.get("jpeg")!;
/** The glue keeps a frame's sample bits and component count in a byte each. */
const MAX_BYTE = 255;

/**
 * How many bytes per pixel to ask the glue's input buffer for, so that its output buffer,
 * which it sizes to match and hands libjpeg-turbo as fixed (TJFLAG_NOREALLOC), holds the
 * largest JPEG this image can make: TurboJPEG's own bound, `tj3JPEGBufSize` (6 bytes a pixel
 * of whole 8x8 blocks at 4:4:4, 3 of 16x16 blocks at 4:2:0, plus 2 kB of headers). The glue's
 * own choice, 3 bytes a pixel, is smaller than a tiny or very detailed image's JPEG, which
 * libjpeg-turbo then writes past the buffer's end.
 */
function bytesPerPixel(width: number, height: number, fullChroma: boolean): number {
  const block = fullChroma ? 8 : 16;
  const padded = (side: number) => Math.ceil(side / block) * block;
  const bound = padded(width) * padded(height) * (fullChroma ? 6 : 3) + 2048;
  return Math.max(3, Math.ceil(bound / (width * height)));
}

/** The part of the glue's encoder this uses (an Emscripten class: `delete` frees it). */
interface TurboEncoder {
  getDecodedBuffer(frame: {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned: boolean;
  }): Uint8Array;
  setQuality(quality: number): void;
  setProgressive(progressive: number): void;
  setSubSampling(subsampling: number): void;
  encode(): void;
  getEncodedBuffer(): Uint8ClampedArray;
  delete(): void;
}

/**
 * Encodes opaque RGBA as a JPEG with libjpeg-turbo, as sharp does by default: libjpeg's standard
 * quantisation tables, no trellis quantisation (mozjpeg's made 4–8× the CPU for ~15 % fewer bytes
 * and lost 0.7 dB against ipx on W1), 4:2:0 chroma below quality 90 and 4:4:4 from 90,
 * progressive (with optimised Huffman tables) when asked. Alpha is ignored.
 *
 * @throws {Error} when the encoder fails (a WebAssembly trap or abort, with its message)
 */
export async function encodeJpeg(
  bitmap: Bitmap,
  quality: number,
  progressive: boolean,
): Promise<ArrayBuffer> {
  const { width, height, data } = bitmap;
  if (width > MAX_SIDE || height > MAX_SIDE) {
    throw new Error(`a JPEG's sides are at most ${MAX_SIDE} pixels`);
  }
  const fullChroma = jpegFullChroma(quality);
  // Asked for as whole bytes per sample times components (at most 32 × 255, above any bound):
  // only the first 3 bytes of each pixel are read as RGB, since any count but 1 means RGB.
  const room = bytesPerPixel(width, height, fullChroma);
  const sampleBytes = Math.ceil(room / MAX_BYTE);
  const messages: string[] = [];
  const module = await compiledWasm(MODULE);
  // A fresh instance per image: its memory (which grows with the image) goes with it.
  const codec = await factory({
    instantiateWasm(
      imports: WebAssembly.Imports,
      done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ) {
      done(new WebAssembly.Instance(module, imports), module);
      return {};
    },
    print: (line: string) => messages.push(line),
    printErr: (line: string) => messages.push(line),
  });
  const encoder: TurboEncoder = new codec.JPEGEncoder();
  try {
    const rgb = encoder.getDecodedBuffer({
      width,
      height,
      bitsPerSample: 8 * sampleBytes,
      componentCount: Math.ceil(room / sampleBytes),
      isSigned: false,
    });
    for (let from = 0, to = 0; from < data.length; from += 4, to += 3) {
      rgb[to] = data[from];
      rgb[to + 1] = data[from + 1];
      rgb[to + 2] = data[from + 2];
    }
    encoder.setQuality(quality);
    encoder.setProgressive(progressive ? 1 : 0);
    encoder.setSubSampling(fullChroma ? TJSAMP_444 : TJSAMP_420);
    encoder.encode();
    // The glue copies the bytes out of the instance's memory into an array of their own.
    return encoder.getEncodedBuffer().buffer as ArrayBuffer;
  } catch (error) {
    // libjpeg-turbo's refusals reach here as a C++ exception, a bare number.
    const reason = error instanceof Error ? error.message : "libjpeg-turbo refused the image";
    throw new Error(messages.at(-1) ?? reason, { cause: error });
  } finally {
    encoder.delete();
  }
}
