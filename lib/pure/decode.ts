import gifCodec from "imagescript/wasm/node/gif.js";
import jpegCodec from "imagescript/wasm/node/jpeg.js";
import pngCodec from "imagescript/wasm/node/png.js";
import tiffCodec from "imagescript/wasm/node/tiff.js";
import type { DecodeHint } from "../backend.ts";
import { type Bitmap, createBitmap } from "../bitmap.ts";
import { Unprocessable } from "../errors.ts";
import type { SourceFormat } from "../formats.ts";
import { decodeWebp } from "./webp.ts";

type Decoder = (bytes: Uint8Array, hint?: DecodeHint) => Promise<Bitmap>;

// Each call instantiates the (cached, compiled) WASM module afresh, so the memory a large
// image grew is released with the instance instead of staying with the worker forever.
const decoders: Partial<Record<SourceFormat, Decoder>> = {
  jpeg: decodeJpeg,
  png: async (bytes) => {
    const { width, height, framebuffer } = (await pngCodec.init()).decode(bytes);
    return { width, height, data: framebuffer };
  },
  tiff: async (bytes) => {
    const { width, height, buffer } = (await tiffCodec.init()).decode(bytes);
    return { width, height, data: buffer.subarray(0, width * height * 4) };
  },
  gif: decodeGifFirstFrame,
  webp: decodeWebp,
};

/**
 * Decodes JPEG, PNG, TIFF, GIF (first frame) and WebP into RGBA.
 *
 * @throws {Unprocessable} when the bytes cannot be decoded
 */
export async function decodeBitmap(
  bytes: Uint8Array,
  format: SourceFormat,
  hint?: DecodeHint,
): Promise<Bitmap> {
  const decoder = decoders[format];
  if (!decoder) throw new Unprocessable(`Cannot decode ${format} images on the pure backend`);
  let bitmap: Bitmap;
  try {
    bitmap = await decoder(bytes, hint);
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

const JPEG_GRAY = 0;
const JPEG_RGB = 1;

/**
 * The JPEG decoder can decode at 1/2, 1/4 or 1/8 scale; it picks the smallest scale that still
 * covers the size it is given. Asking for twice the hint keeps the final resize anti-aliased.
 */
async function decodeJpeg(bytes: Uint8Array, hint?: DecodeHint): Promise<Bitmap> {
  const codec = await jpegCodec.init();
  const frame = hint
    ? codec.decode(bytes, hint.minSize.width * 2, hint.minSize.height * 2)
    : codec.decode(bytes);
  const { width, height, format, buffer } = frame;
  const out = createBitmap(width, height);
  const to = out.data;
  const count = width * height;
  for (let i = 0; i < count; i++) {
    const o = i * 4;
    if (format === JPEG_GRAY) {
      to[o] = to[o + 1] = to[o + 2] = buffer[i];
    } else if (format === JPEG_RGB) {
      to[o] = buffer[i * 3];
      to[o + 1] = buffer[i * 3 + 1];
      to[o + 2] = buffer[i * 3 + 2];
    } else {
      // CMYK, already un-inverted by the decoder: a naive conversion, there is no ICC engine.
      const k = 255 - buffer[o + 3];
      to[o] = Math.round(((255 - buffer[o]) * k) / 255);
      to[o + 1] = Math.round(((255 - buffer[o + 1]) * k) / 255);
      to[o + 2] = Math.round(((255 - buffer[o + 2]) * k) / 255);
    }
    to[o + 3] = 255;
  }
  return out;
}

/**
 * Places the first GIF frame on its logical screen. The decoder is not freed by hand: its
 * WASM instance is private to this call and goes away with it.
 */
async function decodeGifFirstFrame(bytes: Uint8Array): Promise<Bitmap> {
  const decoder = new (await gifCodec.init()).Decoder(bytes);
  const out = createBitmap(decoder.width, decoder.height);
  const frame = decoder.frame();
  if (!frame) throw new Error("the GIF has no frames");
  const rowBytes = frame.width * 4;
  const copyBytes = Math.max(0, Math.min(frame.width, out.width - frame.x)) * 4;
  for (let y = 0; y < frame.height && frame.y + y < out.height; y++) {
    const row = frame.buffer.subarray(y * rowBytes, y * rowBytes + copyBytes);
    out.data.set(row, ((frame.y + y) * out.width + frame.x) * 4);
  }
  return out;
}
