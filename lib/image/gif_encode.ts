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

/** The least alpha a pixel keeps its colour at in a GIF (one transparent colour, no levels). */
const OPAQUE_FROM = 128;

interface IndexedFrame {
  palette: number[][];
  index: Uint8Array;
  /** The palette entry shown transparent; -1 for none. */
  transparentIndex: number;
}

/** 5-6-5 bits of colour, 256 colours. */
function opaqueFrame(rgba: Uint8Array): IndexedFrame {
  const palette = quantize(rgba, 256, { format: "rgb565" });
  return { palette, index: applyPalette(rgba, palette, "rgb565"), transparentIndex: -1 };
}

/**
 * Pixels with alpha under {@link OPAQUE_FROM} become the transparent colour and the others
 * opaque, matched on colour alone, the threshold libvips' cgif uses too. gifenc's own matching
 * weighs alpha as a fourth channel, which made a pixel of alpha 1 opaque. The
 * palette comes from gifenc's quantizer on 4 bits a channel plus 1 of alpha, keeping one entry
 * for transparency.
 */
function withTransparency(rgba: Uint8Array): IndexedFrame {
  const quantized: number[][] = quantize(rgba, 256, {
    format: "rgba4444",
    oneBitAlpha: OPAQUE_FROM - 1,
  });
  const opaque = quantized.filter((colour) => colour[3] === 255).slice(0, 255)
    .map(([red, green, blue]) => [red, green, blue]);
  const index = applyPalette(rgba, opaque, "rgb565");
  for (let i = 0; i < index.length; i++) {
    if (rgba[i * 4 + 3] < OPAQUE_FROM) index[i] = opaque.length;
  }
  return { palette: [...opaque, [0, 0, 0]], index, transparentIndex: opaque.length };
}

/**
 * Encodes frames of one size as a GIF (gifenc, plain JavaScript) with their delays and the loop
 * count kept, each frame with its own 256-colour palette. Partly transparent pixels become
 * fully transparent or opaque (GIF has one transparent colour): opaque from half alpha up.
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
    const { palette, index, transparentIndex } = hasTransparency(bitmap)
      ? withTransparency(rgba)
      : opaqueFrame(rgba);
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
