// GraphicsMagick's blur and sharpen run on a copy framed by repeated edges, cut into tiles so the
// copy and the library's two working images exist a tile at a time (lib/magick/blur.ts). Tiles
// must not show: every sample must equal the one blurred from the whole framed copy at once. The
// tiles read and write regions of rows and columns, which are checked before the library's call.
import assert from "node:assert/strict";
import type { Wand } from "../lib/magick/api.ts";
import { blurWand, sharpenWand } from "../lib/magick/blur.ts";
import { openMagick } from "../lib/magick/library.ts";

function openGraphicsMagick() {
  try {
    return openMagick("graphicsmagick");
  } catch (error) {
    if (Deno.env.get("CI") === "true") throw error;
    console.log(`skipped: ${(error as Error).message}`);
    return undefined;
  }
}

const api = openGraphicsMagick();

/** A wand holding a busy 16-bit picture (sharp steps, noise-like detail, varying alpha). */
function picture(width: number, height: number, alpha: boolean): Wand {
  const map = alpha ? "RGBA" : "RGB";
  const wand = api!.blankImage!(width, height, alpha, "") as Wand;
  const samples = new Uint16Array(width * height * map.length);
  let seed = 12345;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      samples[i++] = (x * 977 + y * 31) & 0xffff;
      samples[i++] = (x + y) % 40 < 20 ? 0xffff : 0;
      samples[i++] = seed >>> 16;
      if (alpha) samples[i++] = x % 50 < 10 ? 0 : (y * 523) & 0xffff;
    }
  }
  assert.ok(api!.importRows(wand, 0, height, map, samples), "import the picture");
  return wand;
}

function samplesOf(wand: Wand, alpha: boolean): Uint16Array {
  const width = Number(api!.c.MagickGetImageWidth(wand));
  const height = Number(api!.c.MagickGetImageHeight(wand));
  const map = alpha ? "RGBA" : "RGB";
  const out = new Uint16Array(width * height * map.length);
  assert.ok(api!.exportRows(wand, 0, height, map, out), "export the result");
  return out;
}

/** The first sample that differs, as "x,y channel: a ≠ b", or undefined. */
function firstDifference(a: Uint16Array, b: Uint16Array, width: number, channels: number) {
  const i = a.findIndex((value, i) => value !== b[i]);
  if (i < 0) return undefined;
  const pixel = Math.floor(i / channels);
  return `${pixel % width},${Math.floor(pixel / width)} channel ${i % channels}: ${a[i]} ≠ ${b[i]}`;
}

Deno.test({
  name: "GraphicsMagick blur and sharpen in tiles give the same samples as one framed copy",
  ignore: !api,
  fn() {
    // Tall images are cut into bands of rows, wide ones into bands of columns; sigmas from
    // the smallest sharpen to one whose kernel reaches past the frame's 3 sigma.
    const cases = [
      { width: 61, height: 420, sigma: 0.3 },
      { width: 90, height: 500, sigma: 2 },
      { width: 700, height: 45, sigma: 2.7 },
      { width: 37, height: 1300, sigma: 7.5 },
      { width: 1700, height: 23, sigma: 20 },
      // Two tiles of barely 4 kernel reaches: the shortest a tile gets.
      { width: 30, height: 800, sigma: 20 },
      { width: 523, height: 31, sigma: 1.3 },
      { width: 1001, height: 7, sigma: 3.1 },
    ];
    for (const { width, height, sigma } of cases) {
      for (const alpha of [false, true]) {
        for (const [name, run] of [["blur", blurWand], ["sharpen", sharpenWand]] as const) {
          const what = `${name} ${sigma} of ${width}x${height}${alpha ? " with alpha" : ""}`;
          const source = picture(width, height, alpha);
          const whole = picture(width, height, alpha);
          const tiled = picture(width, height, alpha);
          try {
            run(api!, whole, sigma, undefined, Infinity);
            // At most 1 pixel a tile: as many tiles as the overlap allows.
            run(api!, tiled, sigma, undefined, 1);
            const expected = samplesOf(whole, alpha);
            const actual = samplesOf(tiled, alpha);
            const before = samplesOf(source, alpha);
            assert.notDeepEqual(expected, before, `${what}: the blur changed nothing`);
            const difference = firstDifference(actual, expected, width, alpha ? 4 : 3);
            assert.equal(difference, undefined, `${what}: ${difference}`);
          } finally {
            api!.c.DestroyMagickWand(source);
            api!.c.DestroyMagickWand(whole);
            api!.c.DestroyMagickWand(tiled);
          }
        }
      }
    }
  },
});

Deno.test({
  name:
    "GraphicsMagick's pixel export and import refuse a region past the image or a buffer too small, before the native call",
  ignore: !api,
  fn() {
    const wand = picture(10, 8, false);
    try {
      const fits = new Uint16Array(10 * 8 * 3);
      assert.ok(api!.exportRows(wand, 0, 8, "RGB", fits));
      assert.ok(api!.exportRows(wand, 7, 1, "RGB", fits, { x: 9, width: 1 }));
      const refused: [number, number, Uint16Array, { x: number; width: number }?][] = [
        [0, 9, fits],
        [8, 1, fits],
        [-1, 1, fits],
        [0, 0, fits],
        [0, 1, fits, { x: 9, width: 2 }],
        [0, 1, fits, { x: -1, width: 1 }],
        [0, 1, fits, { x: 0, width: 0 }],
        [0, 1.5, fits],
        [0, 2 ** 31, fits],
        [0, 8, new Uint16Array(10 * 8 * 3 - 1)],
      ];
      for (const [y, rows, samples, span] of refused) {
        const what = `${rows} rows at ${y}, ${JSON.stringify(span)}, ${samples.length} samples`;
        assert.throws(() => api!.exportRows(wand, y, rows, "RGB", samples, span), RangeError, what);
        assert.throws(() => api!.importRows(wand, y, rows, "RGB", samples, span), RangeError, what);
      }
      // RGBA needs a third more samples than RGB.
      assert.throws(() => api!.exportRows(wand, 0, 8, "RGBA", fits), RangeError);
    } finally {
      api!.c.DestroyMagickWand(wand);
    }
  },
});
