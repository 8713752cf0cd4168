// The engines' bare loops: one image work (decode, fit into a box, encode) called straight on a
// library, with nothing of the server around it. bench/bare_worker.ts runs them in Web Workers.
import type { Size } from "../lib/image/bitmap.ts";
import type { ShrinkOnLoad } from "../lib/image/backend.ts";
import type { MagickLibrary } from "../lib/magick/library.ts";
import { jpegScale } from "../lib/image/jpeg_scale.ts";

/** Fit into `box` (a 0 side follows the ratio), encode as `format` at `quality`. */
export interface Recipe {
  engine: "sharp" | MagickLibrary;
  box: Size;
  format: "jpeg" | "png" | "webp";
  quality: number;
  /**
   * How far the JPEG is shrunk on load, as `image.shrinkOnLoad` does it on the backends:
   * `fast` (sharp's default, and the default here) or `quality`.
   */
  shrinkOnLoad?: ShrinkOnLoad;
}

/** One run of a recipe on the source bytes, answering the encoded size. */
export type Run = (bytes: Uint8Array) => Promise<number>;

/** sharp as its README shows it: one pipeline, its default (fast) shrink-on-load. */
async function sharpRun(recipe: Recipe): Promise<Run> {
  const { default: sharp } = await import("sharp");
  sharp.concurrency(1);
  sharp.cache(false);
  const { box, format, quality } = recipe;
  return async (bytes) => {
    const resized = sharp(bytes).resize(box.width || null, box.height || null, {
      fit: "inside",
      kernel: "lanczos3",
      fastShrinkOnLoad: recipe.shrinkOnLoad !== "quality",
    });
    const out = format === "png"
      ? resized.png()
      : format === "webp"
      ? resized.webp({ quality })
      : resized.jpeg({ quality });
    return (await out.toBuffer()).length;
  };
}

/**
 * The magick libraries through our FFI binding, called as their documentation shows: the JPEG
 * size hint (at the backends' margin for the recipe's policy), read, Lanczos resize, write.
 */
async function magickRun(recipe: Recipe): Promise<Run> {
  const { openMagick } = await import("../lib/magick/library.ts");
  const { cString } = await import("../lib/magick/api.ts");
  const api = openMagick(recipe.engine as MagickLibrary);
  const { c } = api;
  const { box, format, quality } = recipe;
  return (bytes) => {
    const wand = c.NewMagickWand()!;
    try {
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const { width, height } = jpegSize(view);
      const scale = Math.min(box.width / width || Infinity, box.height / height || Infinity);
      const target = { width: Math.round(width * scale), height: Math.round(height * scale) };
      const hint = { minSize: target, shrinkOnLoad: recipe.shrinkOnLoad };
      const asked = jpegScale(recipe.engine, { width, height }, hint).asked;
      api.setDecodeSize(wand, asked.width, asked.height);
      c.MagickReadImageBlob(wand, bytes, BigInt(bytes.length));
      api.resize(wand, target.width, target.height);
      c.MagickStripImage(wand);
      c.MagickSetImageFormat(wand, cString(format.toUpperCase()));
      api.setQuality(wand, format === "png" ? 65 : quality);
      const length = new BigUint64Array(1);
      const blob = api.writeBlob(wand, length);
      c.MagickRelinquishMemory(blob);
      return Promise.resolve(Number(length[0]));
    } finally {
      c.DestroyMagickWand(wand);
    }
  };
}

/** The stored size from a baseline or progressive JPEG's frame header. */
function jpegSize(view: DataView): Size {
  for (let at = 2; at + 9 < view.byteLength;) {
    const marker = view.getUint8(at + 1);
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    }
    at += 2 + view.getUint16(at + 2);
  }
  throw new Error("not a JPEG");
}

export function prepare(recipe: Recipe): Promise<Run> {
  return recipe.engine === "sharp" ? sharpRun(recipe) : magickRun(recipe);
}
