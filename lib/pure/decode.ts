import jpegCodec from "imagescript/wasm/node/jpeg.js";
import pngCodec from "imagescript/wasm/node/png.js";
import type { DecodeHint } from "../image/backend.ts";
import { decodeAvif } from "../image/avif_decode.ts";
import { jpegScale } from "../image/jpeg_scale.ts";
import { concatBytes } from "../image/bytes.ts";
import { type Bitmap, createBitmap, type Size } from "../image/bitmap.ts";
import { Unprocessable } from "../errors.ts";
import type { SourceFormat } from "../image/formats.ts";
import { probeImage, readTiffTags } from "../image/probe.ts";
import { decodeGifFrames } from "./gif.ts";
import { compiledWasm } from "../image/wasm.ts";
import { decodeTurboJpeg } from "./jpeg_turbo.ts";
import { decodeWebp } from "./webp.ts";

/** Decodes `bytes`, whose header said `probed`, failing before allocating for any other size. */
type Decoder = (bytes: Uint8Array, probed: Size, hint?: DecodeHint) => Promise<Bitmap>;

// Each call instantiates the (cached, compiled) WASM module afresh, so the memory a large
// image grew is released with the instance instead of staying with the worker forever.
const decoders = new Map<SourceFormat, Decoder>([
  ["jpeg", decodeJpeg],
  ["png", async (bytes) => {
    const { width, height, framebuffer } = (await pngCodec.init()).decode(bytes);
    return { width, height, data: framebuffer };
  }],
  ["tiff", decodeTiff],
  ["gif", async (bytes) => {
    const [first] = await decodeGifFrames(bytes, 1);
    if (!first) throw new Error("the GIF has no frames");
    return first.bitmap;
  }],
  ["webp", decodeWebp],
  ["avif", decodeAvif],
]);

/**
 * Refuses a decoder's answer whose size is not the one the header probe (and so the limits)
 * saw: a file whose header and data disagree could otherwise get past the limits. `scales`
 * are the reductions the decoder may have applied (each side rounded up).
 *
 * @throws {Error} when the size differs
 */
export function checkDecodedSize(decoded: Size, probed: Size, scales: readonly number[] = [1]) {
  const matches = scales.some((scale) =>
    decoded.width === Math.ceil(probed.width * scale) &&
    decoded.height === Math.ceil(probed.height * scale)
  );
  if (!matches) {
    throw new Error(
      `the decoder found ${decoded.width}x${decoded.height} pixels where the header says ${probed.width}x${probed.height}`,
    );
  }
}

/**
 * Decodes JPEG, PNG, TIFF, GIF (first frame), WebP and AVIF into RGBA. `probed` is the caller's
 * probe of these bytes (the worker's, which walked the whole file): absent, they are probed here.
 *
 * @throws {Unprocessable} when the bytes cannot be decoded
 */
export async function decodeBitmap(
  bytes: Uint8Array,
  format: SourceFormat,
  hint?: DecodeHint,
  known?: Size,
): Promise<Bitmap> {
  const decoder = decoders.get(format);
  if (!decoder) throw new Unprocessable(`Cannot decode ${format} images on the pure backend`);
  const probed = known ?? probeImage(bytes, format);
  let bitmap: Bitmap;
  try {
    bitmap = await decoder(bytes, probed, hint);
    checkDecodedSize(bitmap, probed, format === "jpeg" ? JPEG_SCALES : undefined);
  } catch (error) {
    throw new Unprocessable(`Cannot decode the ${format} source: ${(error as Error).message}`);
  }
  if (
    bitmap.data.length !== bitmap.width * bitmap.height * 4 || bitmap.width * bitmap.height === 0
  ) {
    throw new Unprocessable(`Cannot decode the ${format} source: the image data is incomplete`);
  }
  return bitmap;
}

/** The scales libjpeg-turbo's decoder can reduce a JPEG by while decoding. */
const JPEG_SCALES = [1, 1 / 2, 1 / 4, 1 / 8];
/** ImageScript's name for a CMYK frame (it also answers 0 for gray and 1 for RGB). */
const JPEG_CMYK = 2;

/**
 * Decodes a JPEG with libjpeg-turbo at the size `jpegScale` names for the hint (the one
 * planning counted); CMYK ones with ImageScript's decoder, which converts them.
 */
async function decodeJpeg(bytes: Uint8Array, probed: Size, hint?: DecodeHint): Promise<Bitmap> {
  const size = hint ? jpegScale("pure", probed, hint).decoded : probed;
  return await decodeTurboJpeg(bytes, probed, size) ?? await decodeCmykJpeg(bytes, probed, size);
}

/**
 * A CMYK JPEG through ImageScript's decoder, which un-inverts Adobe's CMYK, at `size` (one of
 * its scales of `probed`, as `jpegScale` names them).
 */
async function decodeCmykJpeg(bytes: Uint8Array, probed: Size, size: Size): Promise<Bitmap> {
  const codec = await jpegCodec.init();
  const scaled = size.width !== probed.width || size.height !== probed.height;
  const frame = scaled ? codec.decode(bytes, size.width, size.height) : codec.decode(bytes);
  const { width, height, format, buffer } = frame;
  checkDecodedSize(frame, size);
  if (format !== JPEG_CMYK) throw new Error("the JPEG decoders disagree on its colour space");
  const out = createBitmap(width, height);
  const to = out.data;
  for (let o = 0; o < to.length; o += 4) {
    // Already un-inverted by the decoder: a naive conversion, there is no ICC engine.
    const k = 255 - buffer[o + 3];
    to[o] = Math.round(((255 - buffer[o]) * k) / 255);
    to[o + 1] = Math.round(((255 - buffer[o + 1]) * k) / 255);
    to[o + 2] = Math.round(((255 - buffer[o + 2]) * k) / 255);
    to[o + 3] = 255;
  }
  return out;
}

const TIFF_COMPRESSION = 259;
const TIFF_EXTRA_SAMPLES = 338;
const TIFF_OLD_JPEG = 6;
const TIFF_JPEG = 7;
const TIFF_ASSOCIATED_ALPHA = 1;
const TIFF_SUPPORTED = "8- or 16-bit RGB, RGBA or gray; uncompressed, LZW or PackBits";

/** The exports of ImageScript's TIFF decoder (the Rust `tiff` crate, output always RGBA8). */
interface TiffDecoder {
  memory: WebAssembly.Memory;
  walloc(size: number): number;
  decode(pointer: number, size: number): number;
  decode_width(image: number): number;
  decode_height(image: number): number;
  decode_buffer(image: number): number;
  /** The size of the buffer `decode_buffer` answered last. */
  wlen(): number;
}

/**
 * Decodes 8- and 16-bit RGB, RGBA and gray TIFFs, uncompressed, LZW or PackBits. Other
 * layouts (Deflate, palette, gray with alpha, CMYK, YCbCr, planar, tiled, float) make the
 * decoder fail or trap. JPEG-compressed ones would come out in the wrong colours, so they are
 * refused before; premultiplied ("associated") alpha is turned straight.
 */
async function decodeTiff(bytes: Uint8Array, probed: Size): Promise<Bitmap> {
  const tags = readTiffTags(bytes);
  const compression = tags.get(TIFF_COMPRESSION);
  if (compression === TIFF_OLD_JPEG || compression === TIFF_JPEG) {
    throw new Error("JPEG-compressed TIFF is not supported");
  }
  const tiff = await compiledWasm("imagescript/wasm/any/tiff.wasm", withStack);
  const wasm = new WebAssembly.Instance(tiff).exports as unknown as TiffDecoder;
  const input = wasm.walloc(bytes.length);
  new Uint8Array(wasm.memory.buffer, input, bytes.length).set(bytes);
  let image: number;
  try {
    image = wasm.decode(input, bytes.length);
  } catch {
    image = 0; // the Rust decoder panicked
  }
  if (image === 0) throw new Error(`this TIFF variant is not supported (${TIFF_SUPPORTED})`);
  const width = wasm.decode_width(image);
  const height = wasm.decode_height(image);
  checkDecodedSize({ width, height }, probed);
  const pixels = wasm.decode_buffer(image);
  const data = new Uint8Array(wasm.memory.buffer, pixels, wasm.wlen()).slice(0, width * height * 4);
  if (tags.get(TIFF_EXTRA_SAMPLES) === TIFF_ASSOCIATED_ALPHA) unpremultiply(data);
  return { width, height, data };
}

function unpremultiply(data: Uint8Array): void {
  for (let i = 0; i < data.length; i += 4) {
    const alpha = data[i + 3];
    if (alpha === 0 || alpha === 255) continue;
    for (let c = i; c < i + 3; c++) data[c] = Math.min(255, Math.round((data[c] * 255) / alpha));
  }
}

const WASM_MEMORY_SECTION = 5;
const WASM_GLOBAL_SECTION = 6;
const WASM_PAGE = 65536;
/** A page for the static data, then 1 MiB of stack (as ImageScript's JPEG decoder has). */
const STACK_PAGES = 17;
const I32 = 0x7f;
const MUTABLE = 1;
const I32_CONST = 0x41;
const END = 0x0b;

/**
 * ImageScript 1.3.1 ships its TIFF decoder linked without a stack: the stack pointer (the first
 * global) starts at byte 16, right below the static data, so the first call frame lands below
 * address 0 and every decode traps. This rewrites the module to start with 17 pages of memory
 * and the stack pointer at their top. Its allocator only uses pages it grows, so the stack has
 * that space to itself (a stack deeper than 1 MiB would run into the static data, inside the
 * sandbox; the decoder does not recurse).
 *
 * @throws {Error} when the module is not the one this was written for
 */
function withStack(wasm: Uint8Array): Uint8Array<ArrayBuffer> {
  const parts = [wasm.subarray(0, 8)];
  for (let at = 8; at < wasm.length;) {
    const id = wasm[at];
    const { value: size, end } = readLeb128(wasm, at + 1);
    let payload = wasm.subarray(end, end + size);
    if (id === WASM_MEMORY_SECTION) {
      payload = replaceStart(payload, [1, 0, 1], [1, 0, STACK_PAGES]);
    }
    if (id === WASM_GLOBAL_SECTION) {
      const stackTop = leb128(STACK_PAGES * WASM_PAGE, true);
      const global = [I32, MUTABLE, I32_CONST];
      payload = replaceStart(payload, [3, ...global, 16, END], [3, ...global, ...stackTop, END]);
    }
    parts.push(Uint8Array.of(id, ...leb128(payload.length)), payload);
    at = end + size;
  }
  return concatBytes(parts);
}

function replaceStart(bytes: Uint8Array, from: number[], to: number[]): Uint8Array {
  if (from.some((byte, i) => bytes[i] !== byte)) {
    throw new Error("the TIFF decoder module is not the expected one");
  }
  return Uint8Array.of(...to, ...bytes.subarray(from.length));
}

/** A non-negative number in (signed or unsigned) LEB128, as WebAssembly writes numbers. */
function leb128(value: number, signed = false): number[] {
  const out = [];
  for (;;) {
    const low = value & 0x7f;
    value = Math.floor(value / 128);
    if (value === 0 && !(signed && low & 0x40)) return [...out, low];
    out.push(low | 0x80);
  }
}

function readLeb128(bytes: Uint8Array, at: number): { value: number; end: number } {
  let value = 0;
  for (let scale = 1;; scale *= 128) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, end: at };
  }
}
