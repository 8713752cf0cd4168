import gifenc from "gifenc";
import { type Bitmap, hasTransparency } from "./bitmap.ts";

/** One frame of an animation: a full-canvas bitmap and how long it shows. */
export interface AnimationFrame {
  bitmap: Bitmap;
  delayMs: number;
}

const { applyPalette, GIFEncoder, quantize } = gifenc;

/** gifenc's disposal code that clears a frame before the next one is drawn. */
const CLEAR_BEFORE_NEXT = 2;

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
    const transparent = hasTransparency(bitmap);
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
