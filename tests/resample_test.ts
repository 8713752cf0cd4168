import assert from "node:assert/strict";
import { Image } from "imagescript";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { makeBitmap, pixelAt, skipWithout } from "./helpers.ts";

/** Mean and standard deviation of the red channel. */
function redStats(image: Bitmap): { mean: number; stddev: number } {
  let sum = 0;
  let squares = 0;
  const n = image.width * image.height;
  for (let p = 0; p < image.data.length; p += 4) {
    sum += image.data[p];
    squares += image.data[p] ** 2;
  }
  const mean = sum / n;
  return { mean, stddev: Math.sqrt(squares / n - mean * mean) };
}

Deno.test("resizeBitmap() returns the requested size", () => {
  const src = makeBitmap(37, 23, (x, y) => [x * 7, y * 11, 0, 255]);
  for (const [w, h] of [[10, 7], [80, 50], [1, 1], [37, 5], [3, 23], [200, 3]]) {
    const out = resizeBitmap(src, w, h);
    assert.equal(out.width, w);
    assert.equal(out.height, h);
    assert.equal(out.data.length, w * h * 4);
  }
});

Deno.test("resizeBitmap() returns a copy at the same size", () => {
  const src = makeBitmap(5, 4, (x, y) => [x, y, x + y, 200]);
  const out = resizeBitmap(src, 5, 4);
  assert.deepEqual(out.data, src.data);
  assert.notEqual(out.data, src.data);
});

Deno.test("resizeBitmap() rejects a size that is not a positive integer", () => {
  const src = makeBitmap(4, 4, () => [0, 0, 0, 255]);
  for (const [w, h] of [[0, 4], [4, -1], [2.5, 4], [NaN, 4]]) {
    assert.throws(() => resizeBitmap(src, w, h), RangeError);
  }
  assert.throws(
    () => resizeBitmap({ width: 0, height: 0, data: new Uint8Array(0) }, 2, 2),
    RangeError,
  );
});

Deno.test("resizeBitmap() keeps a flat colour flat", () => {
  for (const colour of [[200, 100, 50, 255], [200, 100, 50, 128], [13, 240, 99, 1]]) {
    const src = makeBitmap(90, 60, () => colour);
    // Upscaling, a plain downscale, and one big enough for the box pre-shrink.
    for (const [w, h] of [[250, 170], [41, 29], [9, 7], [90, 11]]) {
      const out = resizeBitmap(src, w, h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) assert.deepEqual(pixelAt(out, x, y), colour, `${w}x${h}`);
      }
    }
  }
});

Deno.test("resizeBitmap() does not bleed the colour of transparent pixels", () => {
  // Left half transparent red, right half opaque blue: premultiplied, the red weighs nothing.
  const src = makeBitmap(64, 32, (x) => x < 32 ? [255, 0, 0, 0] : [0, 0, 255, 255]);
  for (const [w, h] of [[20, 10], [7, 5], [150, 40]]) {
    const out = resizeBitmap(src, w, h);
    let partial = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [r, g, b, a] = pixelAt(out, x, y);
        if (a === 0) assert.deepEqual([r, g, b], [0, 0, 0]);
        else assert.deepEqual([r, g, b], [0, 0, 255], `${w}x${h} at ${x},${y}`);
        if (a > 0 && a < 255) partial++;
      }
    }
    assert.ok(partial > 0, "the edge should be soft");
  }
});

Deno.test("resizeBitmap() turns a fine checkerboard into flat grey", () => {
  // Squares of 3 pixels, so that averaging pixel pairs alone cannot flatten it.
  const src = makeBitmap(
    800,
    600,
    (x, y) => (Math.floor(x / 3) + Math.floor(y / 3)) % 2 ? [255, 255, 255, 255] : [0, 0, 0, 255],
  );
  const { mean, stddev } = redStats(resizeBitmap(src, 100, 75));
  console.log(`checkerboard at 1/8: mean ${mean.toFixed(2)}, stddev ${stddev.toFixed(2)}`);
  assert.ok(Math.abs(mean - 127.5) < 1, `mean ${mean}`);
  assert.ok(stddev < 1, `stddev ${stddev}`);
});

Deno.test("resizeBitmap() does not alias a zone plate", () => {
  // cos(pi r² / n): the local frequency r / n cycles per pixel reaches 0.5 at r = n / 2.
  const n = 1024;
  const src = makeBitmap(n, n, (x, y) => {
    const r2 = (x + 0.5 - n / 2) ** 2 + (y + 0.5 - n / 2) ** 2;
    const v = Math.round(127.5 + 127.5 * Math.cos(Math.PI * r2 / n));
    return [v, v, v, 255];
  });
  for (const factor of [4, 8]) {
    const size = n / factor;
    const out = resizeBitmap(src, size, size);
    // Where the source frequency is well above the new Nyquist limit, only grey may remain.
    let squares = 0;
    let count = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const r = Math.hypot(x + 0.5 - size / 2, y + 0.5 - size / 2) * factor;
        if (r / n < 0.75 / factor || r > n / 2) continue;
        squares += (out.data[(y * size + x) * 4] - 127.5) ** 2;
        count++;
      }
    }
    const rms = Math.sqrt(squares / count);
    assert.ok(rms < 3, `aliasing RMS ${rms.toFixed(2)} at 1/${factor}`);
  }
});

async function convert(...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("convert", { args, stderr: "piped" })
    .output();
  assert.ok(success, new TextDecoder().decode(stderr));
}

async function decodePng(path: string): Promise<Bitmap> {
  const image = await Image.decode(await Deno.readFile(path));
  const { buffer, byteOffset, length } = image.bitmap;
  return {
    width: image.width,
    height: image.height,
    data: new Uint8Array(buffer, byteOffset, length),
  };
}

const skipMagick = await skipWithout("convert");

Deno.test({
  name: "resizeBitmap() matches ImageMagick's Lanczos on a photo-like image",
  ignore: skipMagick,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await convert(
        ...["-seed", "7", "-size", "1600x1200", "plasma:fractal", "-blur", "0x1"],
        ...["-depth", "8", `${dir}/in.png`],
      );
      const src = await decodePng(`${dir}/in.png`);
      for (const [w, h] of [[400, 300], [200, 150]]) {
        await convert(`${dir}/in.png`, "-resize", `${w}x${h}!`, "-depth", "8", `${dir}/out.png`);
        const expected = await decodePng(`${dir}/out.png`);
        const actual = resizeBitmap(src, w, h);
        let squares = 0;
        for (let p = 0; p < actual.data.length; p++) {
          if (p % 4 !== 3) squares += (actual.data[p] - expected.data[p]) ** 2;
        }
        const psnr = 10 * Math.log10(255 ** 2 / (squares / (w * h * 3)));
        console.log(`PSNR against ImageMagick at ${w}x${h}: ${psnr.toFixed(2)} dB`);
        assert.ok(psnr >= 40, `PSNR ${psnr.toFixed(2)} dB at ${w}x${h}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
