import gifCodec from "imagescript/wasm/node/gif.js";
import type { AnimationFrame } from "../image/gif_encode.ts";

export type { AnimationFrame };
export { encodeGif } from "../image/gif_encode.ts";

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
