import gifCodec from "imagescript/wasm/node/gif.js";
import gifenc from "gifenc";
import type { Bitmap } from "../image/bitmap.ts";

/** One frame of an animation: a full-canvas bitmap and how long it shows. */
export interface AnimationFrame {
  bitmap: Bitmap;
  delayMs: number;
}

/** One frame as ImageScript's WebAssembly GIF decoder (the Rust `gif` crate) hands it out. */
interface RawGifFrame {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Centiseconds. */
  delay: number;
  /**
   * What to do with the frame's area after showing it, in the decoder's own numbering (not the
   * file's, where 2 and 3 are the other way round): 0 unspecified, 1 keep, 2 restore the
   * previous state, 3 clear to transparent.
   */
  dispose: number;
  /** RGBA, `width` x `height`; alpha 0 where the frame is transparent. */
  buffer: Uint8Array;
}

interface GifDecoder {
  width: number;
  height: number;
  frame(): RawGifFrame | null;
}

const { applyPalette, GIFEncoder, quantize } = gifenc;

const DISPOSE_PREVIOUS = 2;
const DISPOSE_BACKGROUND = 3;

/**
 * The frames of a GIF (at most `maxFrames`, so a decoder that finds more frames than the header
 * probe counted cannot allocate for them), composited onto its logical screen with the
 * disposal modes applied; the screen starts fully transparent, as browsers show it.
 *
 * @throws {Error} when the decoder fails
 */
export async function decodeGifFrames(
  bytes: Uint8Array,
  maxFrames = Infinity,
): Promise<AnimationFrame[]> {
  const { Decoder } = await gifCodec.init();
  const decoder: GifDecoder = new Decoder(bytes);
  const { width, height } = decoder;
  const screen = new Uint32Array(width * height);
  const frames: AnimationFrame[] = [];
  for (let raw = decoder.frame(); raw; raw = frames.length < maxFrames ? decoder.frame() : null) {
    const right = Math.min(width, raw.x + raw.width);
    const bottom = Math.min(height, raw.y + raw.height);
    if (raw.buffer.length < raw.width * raw.height * 4) throw new Error("a frame is incomplete");
    const saved = raw.dispose === DISPOSE_PREVIOUS ? screen.slice() : undefined;
    const pixels = new Uint32Array(
      raw.buffer.buffer,
      raw.buffer.byteOffset,
      raw.width * raw.height,
    );
    for (let y = raw.y; y < bottom; y++) {
      for (let x = raw.x; x < right; x++) {
        const pixel = pixels[(y - raw.y) * raw.width + (x - raw.x)];
        if (pixel >>> 24 !== 0) screen[y * width + x] = pixel;
      }
    }
    const shown = new Uint8Array(screen.slice().buffer);
    frames.push({ bitmap: { width, height, data: shown }, delayMs: raw.delay * 10 });
    if (saved) screen.set(saved);
    if (raw.dispose === DISPOSE_BACKGROUND) {
      for (let y = raw.y; y < bottom; y++) screen.fill(0, y * width + raw.x, y * width + right);
    }
  }
  return frames;
}

/**
 * How often an animation repeats, from its NETSCAPE2.0 block: 0 is forever; undefined when the
 * block is absent (the GIF then plays once).
 */
export function gifLoopCount(bytes: Uint8Array): number | undefined {
  const marker = new TextEncoder().encode("NETSCAPE2.0");
  for (let i = 0; i + marker.length + 5 <= bytes.length; i++) {
    if (bytes[i] !== 0x21 || bytes[i + 1] !== 0xff) continue;
    if (marker.every((byte, j) => bytes[i + 3 + j] === byte)) {
      const at = i + 3 + marker.length;
      return bytes[at + 2] | (bytes[at + 3] << 8);
    }
  }
  return undefined;
}

/** gifenc's disposal code that clears a frame before the next one is drawn. */
const CLEAR_BEFORE_NEXT = 2;

/** Whether any pixel is not fully opaque. */
function hasTransparency(data: Uint8Array): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return true;
  return false;
}

/**
 * Encodes frames of one size as a GIF (gifenc, plain JavaScript) with their delays and the loop
 * count kept, each frame with its own 256-colour palette. Partly transparent pixels become
 * fully transparent or opaque (GIF has one transparent colour).
 */
export function encodeGif(
  frames: AnimationFrame[],
  loops: number | undefined,
): Uint8Array<ArrayBuffer> {
  const encoder = GIFEncoder();
  for (const { bitmap, delayMs } of frames) {
    // gifenc reads the whole underlying buffer: hand it one that holds this bitmap alone.
    const rgba = bitmap.data.byteOffset === 0 &&
        bitmap.data.byteLength === bitmap.data.buffer.byteLength
      ? bitmap.data
      : bitmap.data.slice();
    const transparent = hasTransparency(rgba);
    // 5-6-5 bits of colour when opaque; with transparency, 4 bits a channel plus 1 of alpha.
    const format = transparent ? "rgba4444" : "rgb565";
    const palette = quantize(rgba, 256, { format, oneBitAlpha: transparent });
    const index = applyPalette(rgba, palette, format);
    const transparentIndex = transparent
      ? palette.findIndex((colour: number[]) => colour[3] === 0)
      : -1;
    encoder.writeFrame(index, bitmap.width, bitmap.height, {
      palette,
      delay: delayMs,
      // gifenc: -1 writes no loop block (play once), 0 loops forever, n repeats n times.
      repeat: loops === undefined ? -1 : loops,
      transparent: transparentIndex >= 0,
      transparentIndex,
      // Frames are full-canvas: clear each before the next, so transparency never shows the
      // previous frame through.
      dispose: CLEAR_BEFORE_NEXT,
    });
  }
  encoder.finish();
  return encoder.bytes();
}
