// The magick backends shrink on the shared Lanczos3 resampler (lib/magick/resample.ts): the
// same pixels as the pure backend's resize of the same decoded image, alpha neither added nor
// lost, every frame of an animation resized.
import assert from "node:assert/strict";
import { createBitmap } from "../lib/image/bitmap.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { decodeGifFrames, encodeGif } from "../lib/pure/gif.ts";
import { createMagickBackend } from "../lib/magick/backend.ts";
import type { MagickCanvas } from "../lib/magick/canvas.ts";
import { encode, makeBitmap, photoLike } from "./helpers.ts";

const limits = { maxSourcePixels: 50_000_000, maxOutputPixels: 50_000_000 };
const still = { allFrames: false };

/** PNG's colour type (IHDR): 4 and 6 carry alpha. */
const pngColourType = (bytes: Uint8Array) => bytes[25];

for (const library of ["graphicsmagick", "imagemagick"] as const) {
  let backend;
  try {
    backend = createMagickBackend(library, limits);
  } catch (error) {
    if (Deno.env.get("CI") === "true") throw error;
    console.log(`skipped: ${library} resample tests: ${(error as Error).message}`);
    continue;
  }
  const magick = backend;

  Deno.test(`${library}: a shrink gives the shared Lanczos3's pixels and adds no alpha`, async () => {
    const source = photoLike(301, 203);
    const canvas = await magick.decode(await encode(source, "png"), "png", still) as MagickCanvas;
    try {
      canvas.resize({ width: 120, height: 81 });
      assert.equal(canvas.hasAlpha(), false);
      const resized = canvas.sample(Infinity);
      assert.deepEqual(resized, resizeBitmap(source, 120, 81));
      const png = await magick.encode(canvas, { type: "png", quality: 90 });
      assert.ok([0, 2, 3].includes(pngColourType(png)), `colour type ${pngColourType(png)}`);
    } finally {
      canvas.dispose();
    }
  });

  Deno.test(`${library}: a shrink keeps a translucent image's alpha, premultiplied`, async () => {
    // Opaque red beside transparent green: premultiplied, no green may bleed into the red.
    const source = makeBitmap(
      64,
      40,
      (x, y) => x < 32 ? [255, 0, 0, 255] : [0, 255, 0, (x * 3 + y) % 2 ? 0 : 128],
    );
    const canvas = await magick.decode(await encode(source, "png"), "png", still) as MagickCanvas;
    try {
      canvas.resize({ width: 16, height: 10 });
      assert.equal(canvas.hasAlpha(), true);
      assert.deepEqual(canvas.sample(Infinity), resizeBitmap(source, 16, 10));
    } finally {
      canvas.dispose();
    }
  });

  Deno.test(`${library}: every frame of an animation is shrunk, and keeps its delay`, async () => {
    const red = makeBitmap(40, 30, () => [255, 0, 0, 255]);
    const blue = makeBitmap(40, 30, () => [0, 0, 255, 255]);
    const gif = encodeGif([{ bitmap: red, delayMs: 100 }, { bitmap: blue, delayMs: 300 }], 0);
    const canvas = await magick.decode(gif, "gif", { allFrames: true });
    try {
      canvas.resize({ width: 10, height: 7 });
      const out = await decodeGifFrames(await magick.encode(canvas, { type: "gif", quality: 90 }));
      assert.deepEqual(out.map((frame) => [frame.bitmap.width, frame.bitmap.height]), [
        [10, 7],
        [10, 7],
      ]);
      assert.deepEqual(out.map((frame) => frame.delayMs), [100, 300]);
      assert.deepEqual([...out[1].bitmap.data.subarray(0, 4)], [0, 0, 255, 255]);
    } finally {
      canvas.dispose();
    }
  });

  Deno.test(`${library}: a growth and a 1-pixel shrink keep their sizes`, async () => {
    const canvas = await magick.decode(await encode(createBitmap(5, 3), "png"), "png", still);
    try {
      canvas.resize({ width: 1, height: 1 });
      assert.deepEqual([canvas.width, canvas.height], [1, 1]);
      canvas.resize({ width: 300, height: 2 });
      assert.deepEqual([canvas.width, canvas.height], [300, 2]);
    } finally {
      canvas.dispose();
    }
  });
}
