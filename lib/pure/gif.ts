import { GIF } from "imagescript";
import codecs from "imagescript/codecs/node/index.js";
import type { Bitmap } from "../image/bitmap.ts";

/** One frame of an animation: a full-canvas bitmap and how long it shows. */
export interface AnimationFrame {
  bitmap: Bitmap;
  delayMs: number;
}

/**
 * Every frame of a GIF (or only the first), composited onto its logical screen with the
 * disposal modes applied.
 */
export async function decodeGifFrames(
  bytes: Uint8Array,
  firstOnly = false,
): Promise<AnimationFrame[]> {
  const gif = await GIF.decode(bytes, firstOnly);
  return [...gif].map((frame) => ({
    bitmap: { width: frame.width, height: frame.height, data: new Uint8Array(frame.bitmap) },
    delayMs: frame.duration,
  }));
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

/** GIF palette quality for the encoder, 1..100: high, since outputs are usually small. */
const GIF_QUALITY = 95;

/** Encodes frames of one size as a GIF with their delays and the loop count kept. */
export function encodeGif(
  frames: AnimationFrame[],
  loops: number | undefined,
): Uint8Array<ArrayBuffer> {
  const { width, height } = frames[0].bitmap;
  const encoder = new codecs.gif.encoder(width, height);
  for (const { bitmap, delayMs } of frames) {
    encoder.add(bitmap.data, {
      quality: GIF_QUALITY,
      x: 0,
      y: 0,
      width,
      height,
      speed: null,
      colors: null,
      delay: Math.round(delayMs / 10),
      // Frames are full-canvas: clear each before the next, so transparency never shows the
      // previous frame through.
      dispose: "background",
    });
  }
  // The encoder's `repeat`: 0 writes no loop block (play once), null loops forever (our 0).
  return encoder.finish({ repeat: loops === undefined ? 0 : loops === 0 ? null : loops });
}
