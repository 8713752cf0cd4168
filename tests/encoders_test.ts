import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { decodeGifFrames, encodeGif, gifLoopCount } from "../lib/pure/gif.ts";
import { decodeWebp } from "../lib/pure/webp.ts";
import { checkDecodedSize } from "../lib/pure/decode.ts";
import { checkEncoded } from "../lib/image/encoded.ts";
import { HttpError } from "../lib/errors.ts";
import { probeImage } from "../lib/image/probe.ts";
import { sniffFormat } from "../lib/image/sniff.ts";
import { decode, makeBitmap, photoLike, pixelAt, skipWithout } from "./helpers.ts";
import { jpegFrame, scanCount } from "./jpeg_markers.ts";

const photo = photoLike(640, 480);

Deno.test("encoders: the JPEG encoder writes 4:2:0 below quality 90 and 4:4:4 from 90", async () => {
  for (
    const [quality, sampling] of [[1, "2x2"], [80, "2x2"], [89, "2x2"], [90, "1x1"], [
      100,
      "1x1",
    ]] as const
  ) {
    const jpeg = await encodeBitmap(photo, { type: "jpeg", quality });
    assert.equal(sniffFormat(jpeg), "jpeg");
    assert.deepEqual(jpegFrame(jpeg).sampling, [sampling, "1x1", "1x1"], `q${quality}`);
    const { width, height } = probeImage(jpeg, "jpeg");
    assert.deepEqual([width, height], [640, 480]);
  }
});

Deno.test("encoders: the JPEG progressive flag is honoured", async () => {
  const plain = await encodeBitmap(photo, { type: "jpeg", quality: 80 });
  const progressive = await encodeBitmap(photo, { type: "jpeg", quality: 80, progressive: true });
  assert.equal(jpegFrame(plain).progressive, false);
  assert.equal(scanCount(plain), 1);
  assert.equal(jpegFrame(progressive).progressive, true);
  assert.ok(scanCount(progressive) > 1);
  // Both decode to the same picture, near the original.
  for (const jpeg of [plain, progressive]) {
    const [r, g, b] = pixelAt(await decode(jpeg), 320, 240);
    const [r0, g0, b0] = pixelAt(photo, 320, 240);
    assert.ok(Math.abs(r - r0) + Math.abs(g - g0) + Math.abs(b - b0) < 30, `${r},${g},${b}`);
  }
});

Deno.test({
  name: "encoders: JPEG bytes at q80 are within 1.1x of ImageMagick's 4:2:0 on a photo",
  ignore: await skipWithout("convert"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const example = await Deno.readFile(new URL("../examples/photo.jpg", import.meta.url));
      // The example photograph, and the synthetic one, whose smooth areas gain more from
      // Huffman tables fitted to the image (ImageMagick's) than a photograph does.
      for (const [image, bound] of [[await decode(example), 1.1], [photo, 1.2]] as const) {
        const source = join(dir, "photo.png");
        await Deno.writeFile(source, await encodeBitmap(image, { type: "png", quality: 80 }));
        const reference = join(dir, "reference.jpg");
        const args = [source, "-quality", "80", "-sampling-factor", "4:2:0", "-strip", reference];
        const { success } = await new Deno.Command("convert", { args }).output();
        assert.ok(success);
        const magick = (await Deno.readFile(reference)).length;
        const pure = (await encodeBitmap(image, { type: "jpeg", quality: 80 })).length;
        // ImageScript's native encoder wrote ~1.6x ImageMagick's size here (4:4:4, fixed tables).
        assert.ok(pure < magick * bound, `pure ${pure} bytes, ImageMagick ${magick} bytes`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("encoders: JPEGs larger than their pixels (tiny images, q100 noise) are written whole", async () => {
  // libjpeg-turbo writes into a buffer of fixed size: these overran the 3 bytes a pixel its
  // wrapper sized it to (1x1 makes ~630 bytes; noise at q100 4:4:4, 4–8 bytes a pixel).
  let seed = 7;
  const noise = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16 & 255;
  const cases = [
    [1, 1, 80],
    [3, 5, 80],
    [1, 3000, 100],
    [3000, 1, 100],
    [300, 300, 100],
  ] as const;
  for (const [width, height, quality] of cases) {
    const image = makeBitmap(width, height, () => [noise(), noise(), noise(), 255]);
    const jpeg = await encodeBitmap(image, { type: "jpeg", quality });
    const label = `${width}x${height} q${quality}: ${jpeg.length} bytes`;
    assert.ok(jpeg.length > width * height * 3, label);
    const back = await decode(jpeg);
    assert.deepEqual([back.width, back.height], [width, height], label);
    // Whole: the last pixel is the image's, not the grey a cut-short file decodes to.
    const [r, g, b] = pixelAt(back, width - 1, height - 1);
    const [r0, g0, b0] = pixelAt(image, width - 1, height - 1);
    const off = Math.abs(r - r0) + Math.abs(g - g0) + Math.abs(b - b0);
    assert.ok(quality < 100 || off < 60, `${label}: ${r},${g},${b} for ${r0},${g0},${b0}`);
  }
});

Deno.test("encoders: WebP lossless round-trips every pixel, transparent ones' colour too", async () => {
  const image = makeBitmap(
    67,
    45,
    (x, y) => [x * 3, y * 5, (x * y) % 256, (x + y) % 3 === 0 ? 0 : 255 - x],
  );
  const webp = await encodeBitmap(image, { type: "webp", quality: 75, lossless: true });
  assert.equal(sniffFormat(webp), "webp");
  const back = await decodeWebp(webp);
  assert.deepEqual([back.width, back.height], [67, 45]);
  assert.deepEqual(back.data, image.data);
  // Lossy is smaller on a photo and still decodes to its size.
  const lossy = await encodeBitmap(photo, { type: "webp", quality: 75 });
  const lossless = await encodeBitmap(photo, { type: "webp", quality: 75, lossless: true });
  assert.ok(lossy.length < lossless.length);
  assert.equal(probeImage(lossy, "webp").width, 640);
});

Deno.test("encoders: GIF keeps frames, delays, loop count and transparency", async () => {
  const frames = [0, 1, 2].map((i) => ({
    bitmap: makeBitmap(30, 20, (x) => (x < 8 * (i + 1) ? [250, 80 * i, 0, 255] : [0, 0, 0, 0])),
    delayMs: 70 * (i + 1),
  }));
  for (const loops of [undefined, 0, 3]) {
    const gif = encodeGif(frames, loops);
    assert.equal(sniffFormat(gif), "gif");
    assert.equal(gifLoopCount(gif), loops);
    const back = await decodeGifFrames(gif);
    assert.deepEqual(back.map((frame) => frame.delayMs), [70, 140, 210]);
    for (const [i, frame] of back.entries()) {
      // Each frame is whole: the area past its colour is transparent, not the frame before.
      assert.deepEqual(pixelAt(frame.bitmap, 0, 0).slice(3), [255]);
      assert.deepEqual(pixelAt(frame.bitmap, 29, 19), [0, 0, 0, 0], `frame ${i}`);
      const [r, g] = pixelAt(frame.bitmap, 8 * i + 4, 10);
      assert.ok(Math.abs(r - 250) < 12 && Math.abs(g - 80 * i) < 12, `frame ${i}: ${r},${g}`);
    }
    assert.equal((await decodeGifFrames(gif, 1)).length, 1);
  }
});

Deno.test("encoders: a codec failure is a plain (internal) error, and the codec works after it", async () => {
  const cases = [
    [makeBitmap(16384, 1, () => [1, 2, 3, 255]), "webp"],
    [makeBitmap(65501, 1, () => [1, 2, 3, 255]), "jpeg"],
  ] as const;
  for (const [bitmap, type] of cases) {
    await assert.rejects(encodeBitmap(bitmap, { type, quality: 80 }), (error: Error) => {
      assert.ok(!(error instanceof HttpError));
      assert.match(
        error.message,
        new RegExp(`^The ${type} encoder failed on a ${bitmap.width}x1 image: .+`),
      );
      return true;
    });
    const after = await encodeBitmap(photoLike(8, 8), { type, quality: 80 });
    assert.equal(sniffFormat(after), type);
  }
  // The edges that fit encode.
  const wide = await encodeBitmap(makeBitmap(16383, 1, () => [9, 9, 9, 255]), {
    type: "webp",
    quality: 80,
  });
  assert.equal(probeImage(wide, "webp").width, 16383);
  const jpeg = await encodeBitmap(makeBitmap(1, 65500, () => [9, 9, 9, 255]), {
    type: "jpeg",
    quality: 80,
  });
  assert.equal(probeImage(jpeg, "jpeg").height, 65500);
});

Deno.test("encoders: output that is empty or of another format is refused", async () => {
  const png = await encodeBitmap(photoLike(4, 4), { type: "png", quality: 80 });
  assert.equal(checkEncoded(png, "png"), png);
  assert.throws(
    () => checkEncoded(new Uint8Array(), "webp"),
    /^Error: The webp encoder wrote no bytes$/,
  );
  assert.throws(() => checkEncoded(png, "jpeg"), /^Error: The jpeg encoder wrote png bytes$/);
  assert.throws(() => checkEncoded(new Uint8Array([1, 2, 3]), "gif"), /wrote unrecognised bytes/);
});

Deno.test("decoders: a decoded size other than the probed one is refused", () => {
  const probed = { width: 1000, height: 750 };
  checkDecodedSize({ width: 1000, height: 750 }, probed);
  assert.throws(
    () => checkDecodedSize({ width: 100000, height: 750 }, probed),
    /found 100000x750 pixels where the header says 1000x750/,
  );
  // A JPEG decoded at 1/8 rounds each side up; the scales must agree.
  checkDecodedSize({ width: 125, height: 94 }, probed, [1, 1 / 2, 1 / 4, 1 / 8]);
  assert.throws(() => checkDecodedSize({ width: 125, height: 750 }, probed, [1, 1 / 8]));
  assert.throws(() => checkDecodedSize({ width: 125, height: 94 }, probed));
});

Deno.test("encoders: the pure backend decodes and encodes every format with FFI denied", async () => {
  const script = new URL("./pure_without_ffi.ts", import.meta.url).pathname;
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--deny-ffi", script],
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  const report = JSON.parse(new TextDecoder().decode(stdout));
  assert.deepEqual(report, {
    ffi: "denied",
    written: { png: "png", jpeg: "jpeg", webp: "webp", gif: "gif" },
  });
});

/** A 2x1 GIF of 1x1 frames: each frame's x, palette index (red, blue, green) and disposal. */
function disposalGif(frames: [x: number, index: number, dispose: number][]): Uint8Array {
  const bytes = [..."GIF89a"].map((c) => c.charCodeAt(0));
  bytes.push(2, 0, 1, 0, 0x81, 0, 0, 255, 0, 0, 0, 0, 255, 0, 255, 0, 0, 0, 0);
  for (const [x, index, dispose] of frames) {
    bytes.push(0x21, 0xf9, 4, dispose << 2, 0, 0, 0, 0);
    bytes.push(0x2c, x, 0, 0, 0, 1, 0, 1, 0, 0);
    // LZW, 2-bit codes: clear (4), the index, end (5), packed low bits first.
    const codes = 4 | index << 3 | 5 << 6;
    bytes.push(2, 2, codes & 0xff, codes >> 8, 0);
  }
  bytes.push(0x3b);
  return new Uint8Array(bytes);
}

Deno.test("decoders: GIF disposal modes 2 (clear to background) and 3 (restore previous)", async () => {
  const red = [255, 0, 0, 255], blue = [0, 0, 255, 255], green = [0, 255, 0, 255];
  const none = [0, 0, 0, 0];
  const gif = disposalGif([[0, 0, 1], [1, 1, 3], [0, 2, 2], [1, 0, 1]]);
  const frames = await decodeGifFrames(gif);
  const shown = frames.map((
    { bitmap },
  ) => [[...pixelAt(bitmap, 0, 0)], [...pixelAt(bitmap, 1, 0)]]);
  assert.deepEqual(shown, [
    [red, none],
    [red, blue], // then restored: blue goes
    [green, none], // then cleared: green goes
    [none, red],
  ]);
});
