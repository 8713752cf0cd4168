import assert from "node:assert/strict";
import png from "imagescript/png/node.js";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { encodePng } from "../lib/pure/png.ts";
import { inflateSync } from "node:zlib";
import { parseConfig } from "../lib/config/config.ts";
import { PNG_DEFLATE_LEVEL } from "../lib/image/formats.ts";
import { openBackend } from "../lib/pool/backends.ts";
import { makeBitmap, photoLike, requireCommand } from "./helpers.ts";

const GRAY = 0;
const RGB = 2;
const INDEXED = 3;
const RGBA = 6;

/** The chunk types of a PNG file, in order. */
function chunkTypes(bytes: Uint8Array): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const types: string[] = [];
  for (let at = 8; at < bytes.length; at += 12 + view.getUint32(at)) {
    types.push(new TextDecoder().decode(bytes.subarray(at + 4, at + 8)));
  }
  return types;
}

function header(bytes: Uint8Array) {
  return { bitDepth: bytes[24], colourType: bytes[25] };
}

/** Asserts equal pixels, where fully transparent pixels only need to agree on alpha. */
function assertSamePixels(actual: Bitmap, expected: Bitmap, by: string) {
  assert.deepEqual([actual.width, actual.height], [expected.width, expected.height], by);
  for (let i = 0; i < expected.data.length; i += 4) {
    const want = [...expected.data.subarray(i, i + 4)];
    const got = [...actual.data.subarray(i, i + 4)];
    if (want[3] === 0) want.fill(0, 0, 3), got.fill(0, 0, 3);
    if (want.some((value, c) => value !== got[c])) {
      const x = (i / 4) % expected.width;
      const y = Math.floor(i / 4 / expected.width);
      assert.fail(`${by}: pixel (${x}, ${y}) is ${got}, expected ${want}`);
    }
  }
}

const haveMagick = requireCommand("convert");

async function magick(args: string[]): Promise<Uint8Array> {
  const { code, stdout, stderr } = await new Deno.Command("convert", { args }).output();
  const errors = new TextDecoder().decode(stderr);
  assert.equal(code, 0, errors);
  assert.equal(errors, "", "ImageMagick warned about the file");
  return stdout;
}

/**
 * Encodes `bitmap`, checks that our decoder and ImageMagick both give its pixels back and that
 * ImageMagick reads the colour type from the header, and answers the PNG.
 */
async function roundTrip(bitmap: Bitmap, colourType: number, bitDepth = 8): Promise<Uint8Array> {
  const bytes = encodePng(bitmap);
  assert.deepEqual(header(bytes), { bitDepth, colourType });
  assertSamePixels(await decodeBitmap(bytes, "png"), bitmap, "our decoder");
  if (await haveMagick) {
    const file = await Deno.makeTempFile({ suffix: ".png" });
    try {
      await Deno.writeFile(file, bytes);
      const { width, height } = bitmap;
      const data = await magick([file, "-depth", "8", "rgba:-"]);
      assertSamePixels({ width, height, data }, bitmap, "ImageMagick");
      const type = await magick([file, "-format", "%[png:IHDR.color_type]", "info:"]);
      assert.match(new TextDecoder().decode(type), new RegExp(`^${colourType} `));
    } finally {
      await Deno.remove(file);
    }
  }
  return bytes;
}

/** `photoLike` with alpha varying over the whole range, and junk colour under alpha 0. */
function translucentPhoto(width: number, height: number): Bitmap {
  const bitmap = photoLike(width, height);
  for (let i = 0; i < width * height; i++) bitmap.data[i * 4 + 3] = (i * 7) % 256;
  return bitmap;
}

/** A bitmap cycling through exactly `count` colours (some translucent when `alpha`). */
function cycling(width: number, height: number, count: number, alpha: boolean): Bitmap {
  return makeBitmap(width, height, (x, y) => {
    const n = (x + y * width) % count;
    return [n % 256, (n >> 8) * 100 + 50, (n * 37) % 256, alpha ? 255 - (n % 7) * 40 : 255];
  });
}

Deno.test("encodePng() writes a photo-like image as RGB, pixel for pixel, without metadata", async () => {
  const bytes = await roundTrip(photoLike(300, 200), RGB);
  assert.deepEqual(chunkTypes(bytes), ["IHDR", "IDAT", "IEND"]);
});

Deno.test("encodePng() writes varying alpha with more than 256 colours as RGBA", async () => {
  await roundTrip(translucentPhoto(257, 130), RGBA);
});

Deno.test("encodePng() writes a 3-colour logo on transparency as a small indexed image", async () => {
  // A ring, a disc and slanted bars: edges in every direction, as in real logos.
  const logo = makeBitmap(400, 200, (x, y) => {
    const r2 = (x - 100) ** 2 + (y - 100) ** 2;
    if (r2 < 40 ** 2 || (r2 > 70 ** 2 && r2 < 90 ** 2)) return [220, 30, 40, 255];
    if (x > 210 && x < 390 && y > 40 && y < 160 && (x + y) % 30 < 12) return [20, 60, 200, 255];
    return [255, 255, 255, 0];
  });
  const bytes = await roundTrip(logo, INDEXED, 2);
  assert.deepEqual(chunkTypes(bytes), ["IHDR", "PLTE", "tRNS", "IDAT", "IEND"]);
  const rgba = png.encode(logo.data, { width: 400, height: 200, channels: 4, level: 6 });
  assert.ok(bytes.length * 2 < rgba.length, `${bytes.length} bytes, RGBA ${rgba.length}`);
});

Deno.test("encodePng() picks the bit depth of a palette from its size", async () => {
  const depths: [number, number][] = [[2, 1], [3, 2], [4, 2], [5, 4], [16, 4], [17, 8], [256, 8]];
  for (const [count, depth] of depths) {
    for (const alpha of [false, true]) {
      const bytes = await roundTrip(cycling(13, 29, count, alpha), INDEXED, depth);
      assert.equal(chunkTypes(bytes).includes("tRNS"), alpha, `${count} colours`);
    }
  }
  await roundTrip(cycling(13, 29, 257, false), RGB);
  await roundTrip(cycling(13, 29, 257, true), RGBA);
});

Deno.test("encodePng() writes an opaque gray image with more than 16 levels as grayscale", async () => {
  const level = (x: number, y: number) => Math.round(x * 0.8 + y) % 256;
  await roundTrip(makeBitmap(300, 200, (x, y) => [...Array(3).fill(level(x, y)), 255]), GRAY);
  const translucent = makeBitmap(300, 200, (x, y) => [...Array(3).fill(level(x, y)), 128]);
  await roundTrip(translucent, INDEXED);
  await roundTrip(makeBitmap(9, 9, (x) => [x * 20, x * 20, x * 20, 255]), INDEXED, 4);
});

Deno.test("encodePng() handles 1x1, 1000x1 and 1x1000 images", async () => {
  await roundTrip(makeBitmap(1, 1, () => [10, 20, 30, 255]), INDEXED, 1);
  await roundTrip(makeBitmap(1, 1, () => [10, 20, 30, 128]), INDEXED, 1);
  for (const [width, height] of [[1000, 1], [1, 1000]]) {
    await roundTrip(photoLike(width, height), RGB);
    await roundTrip(translucentPhoto(width, height), RGBA);
    await roundTrip(cycling(width, height, 3, true), INDEXED, 2);
  }
});

Deno.test("encodePng() reads pixels at any byte offset", async () => {
  const bitmap = photoLike(31, 17);
  const data = new Uint8Array(bitmap.data.length + 1).subarray(1);
  data.set(bitmap.data);
  const bytes = encodePng({ ...bitmap, data });
  assertSamePixels(await decodeBitmap(bytes, "png"), bitmap, "our decoder");
});

Deno.test("encodePng() against ImageScript's encoder on a 1000x750 photo (printed)", () => {
  const bitmap = photoLike(1000, 750);
  const { width, height } = bitmap;
  const median = (run: () => Uint8Array) => {
    const times: number[] = [];
    let size = 0;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      size = run().length;
      times.push(performance.now() - start);
    }
    return { size, ms: times.sort((a, b) => a - b)[2] };
  };
  const ours = median(() => encodePng(bitmap));
  const theirs = median(() => png.encode(bitmap.data, { width, height, channels: 4, level: 6 }));
  console.log(
    `encodePng: ${ours.size} bytes in ${ours.ms.toFixed(0)} ms; ` +
      `ImageScript: ${theirs.size} bytes in ${theirs.ms.toFixed(0)} ms ` +
      `(size ×${(ours.size / theirs.size).toFixed(2)}, time ×${(ours.ms / theirs.ms).toFixed(2)})`,
  );
});

/** The image data's zlib stream: its IDAT chunks joined. */
function imageData(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  for (let at = 8; at < bytes.length; at += 12 + view.getUint32(at)) {
    if (new TextDecoder().decode(bytes.subarray(at + 4, at + 8)) === "IDAT") {
      parts.push(bytes.subarray(at + 8, at + 8 + view.getUint32(at)));
    }
  }
  return new Uint8Array(parts.flatMap((part) => [...part]));
}

Deno.test("PNG: every backend deflates at PNG_DEFLATE_LEVEL, with adaptive row filters", async () => {
  // zlib's header says the level's class in its FLEVEL bits: 1 for levels 2-5.
  assert.ok(PNG_DEFLATE_LEVEL >= 2 && PNG_DEFLATE_LEVEL <= 5);
  const source = encodePng(photoLike(200, 150));
  for (const name of ["pure", "imagemagick", "graphicsmagick", "vips"] as const) {
    let backend;
    try {
      backend = await openBackend(name, parseConfig({ storages: [] }, ".").image, 1);
    } catch (error) {
      if (Deno.env.get("CI") === "true") throw error;
      console.log(`skipped: ${name}: ${(error as Error).message}`);
      continue;
    }
    const canvas = await backend.decode(source, "png", { allFrames: false });
    const written = await backend.encode(canvas, { type: "png", quality: 80 });
    canvas.dispose();
    assert.equal(header(written).colourType, RGB, name);
    const stream = imageData(written);
    assert.equal(stream[1] >> 6, 1, `${name}: zlib level class`);
    // Adaptive: each row (a filter-type byte, then 3 bytes a pixel) picks its own filter, so a
    // photo's rows use more than one of the five.
    const rows = inflateSync(stream);
    const filters = new Set<number>();
    for (let at = 0; at < rows.length; at += 1 + 200 * 3) filters.add(rows[at]);
    assert.ok(filters.size > 1, `${name}: row filters ${[...filters]}`);
  }
});
