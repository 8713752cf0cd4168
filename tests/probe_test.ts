import sharp from "sharp";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Unprocessable } from "../lib/errors.ts";
import type { SourceFormat } from "../lib/image/formats.ts";
import { probeImage } from "../lib/image/probe.ts";
import { sniffFormat } from "../lib/image/sniff.ts";
import { skipWithout } from "./helpers.ts";

// ---- hand-built bytes ----

type Part = number[] | string | Uint8Array;

/** Concatenates byte lists, Latin-1 strings and arrays into one array. */
function bytesOf(...parts: Part[]): Uint8Array {
  const flat: number[] = [];
  for (const part of parts) {
    if (typeof part === "string") flat.push(...[...part].map((c) => c.charCodeAt(0)));
    else flat.push(...part);
  }
  return new Uint8Array(flat);
}

const be16 = (n: number) => [n >> 8 & 255, n & 255];
const be32 = (n: number) => [n >>> 24, n >> 16 & 255, n >> 8 & 255, n & 255];
const le16 = (n: number) => be16(n).reverse();
const le32 = (n: number) => be32(n).reverse();

/** A PNG whose IHDR claims any size, with no pixel data at all. */
function pngHeader(width: number, height: number): Uint8Array {
  return bytesOf("\x89PNG\r\n\x1a\n", be32(13), "IHDR", be32(width), be32(height), [8, 6, 0, 0, 0]);
}

/** A JPEG whose baseline frame header claims any size, with the segments given before it. */
function jpegHeader(width: number, height: number, ...before: Part[]): Uint8Array {
  const sof = [0xff, 0xc0, ...be16(11), 8, ...be16(height), ...be16(width), 1, 1, 0x11, 0];
  return bytesOf([0xff, 0xd8], ...before, sof, [0xff, 0xd9]);
}

/** A TIFF structure holding one IFD with the entries given as [tag, type, value]. */
function tiffOf(little: boolean, entries: [number, number, number][]): Uint8Array {
  const u16 = little ? le16 : be16;
  const u32 = little ? le32 : be32;
  const value = (type: number, n: number) => type === 3 ? [...u16(n), 0, 0] : u32(n);
  return bytesOf(
    little ? "II" : "MM",
    u16(42),
    u32(8),
    u16(entries.length),
    ...entries.map(([tag, type, n]) => [...u16(tag), ...u16(type), ...u32(1), ...value(type, n)]),
    u32(0),
  );
}

const SHORT = 3;
const LONG = 4;
const ORIENTATION = 0x112;

/** An APP1 segment carrying EXIF with only an orientation tag. */
function exifSegment(orientation: number, little = false): Part {
  const payload = bytesOf("Exif\0\0", tiffOf(little, [[ORIENTATION, SHORT, orientation]]));
  return bytesOf([0xff, 0xe1], be16(payload.length + 2), payload);
}

/** A RIFF/WebP container around the chunks given as [fourcc, payload]. */
function webpOf(...chunks: [string, Uint8Array][]): Uint8Array {
  const body = chunks.map(([fourcc, payload]) =>
    bytesOf(fourcc, le32(payload.length), payload, payload.length & 1 ? [0] : [])
  );
  const size = 4 + body.reduce((sum, chunk) => sum + chunk.length, 0);
  return bytesOf("RIFF", le32(size), "WEBP", ...body);
}

function vp8x(flags: number, width: number, height: number): [string, Uint8Array] {
  const u24 = (n: number) => le32(n).slice(0, 3);
  return ["VP8X", bytesOf([flags, 0, 0, 0], u24(width - 1), u24(height - 1))];
}

/** A deterministic stream of pseudo-random bytes, so a failure can be replayed. */
function noise(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out[i] = state >>> 16;
  }
  return out;
}

function assertUnprocessable(fn: () => unknown, message?: RegExp) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof Unprocessable, `expected Unprocessable, got ${error}`);
    if (message) assert.match(error.message, message);
    return true;
  });
}

function assertSize(bytes: Uint8Array, format: SourceFormat, width: number, height: number) {
  const info = probeImage(bytes, format);
  assert.deepEqual([info.width, info.height], [width, height]);
  return info;
}

// ---- images made by ImageMagick ----

const skipMagick = await skipWithout("convert");

/** A test that needs `convert`: skipped without it, except on CI where it must fail. */
function magickTest(name: string, fn: () => Promise<void>) {
  Deno.test({ name, ignore: skipMagick, fn });
}

/**
 * Runs `convert` with `args` in a fresh directory holding `inputs`, and answers the file named
 * by the last argument (which may carry a coder prefix such as `png8:`).
 */
async function convert(args: string[], inputs: Record<string, Uint8Array> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-probe-" });
  try {
    for (const [name, bytes] of Object.entries(inputs)) {
      await Deno.writeFile(join(dir, name), bytes);
    }
    const { success, stderr } = await new Deno.Command("convert", { args, cwd: dir }).output();
    assert.ok(success, `convert ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
    return await Deno.readFile(join(dir, args.at(-1)!.replace(/^\w+:/, "")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const W = 37;
const H = 23;
const gradient = ["-size", `${W}x${H}`, "gradient:red-blue"];
const threeFrames = ["-delay", "10", "-size", `${W}x${H}`, "xc:red", "xc:green", "xc:blue"];

/** Whether a JPEG holds the given marker (enough for these small, table-light files). */
function hasMarker(bytes: Uint8Array, marker: number): boolean {
  return bytes.some((b, i) => b === 0xff && bytes[i + 1] === marker);
}

// ---- sniffFormat ----

Deno.test("sniffFormat() recognises each format by its magic bytes", () => {
  const bmp = bytesOf("BM", le32(0), le32(0), le32(54), le32(40));
  assert.equal(sniffFormat(bytesOf([0xff, 0xd8, 0xff, 0xe0])), "jpeg");
  assert.equal(sniffFormat(pngHeader(1, 1)), "png");
  assert.equal(sniffFormat(bytesOf("GIF87a")), "gif");
  assert.equal(sniffFormat(bytesOf("GIF89a")), "gif");
  assert.equal(sniffFormat(bytesOf("II*\0")), "tiff");
  assert.equal(sniffFormat(bytesOf("MM\0*")), "tiff");
  assert.equal(sniffFormat(bytesOf("RIFF", le32(4), "WEBP")), "webp");
  assert.equal(sniffFormat(bmp), "bmp");
});

Deno.test("sniffFormat() refuses SVG, PostScript, PDF and random bytes", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(sniffFormat(text('<svg xmlns="http://www.w3.org/2000/svg"/>')), undefined);
  assert.equal(sniffFormat(text('<?xml version="1.0"?><svg/>')), undefined);
  assert.equal(sniffFormat(text("%!PS-Adobe-3.0\n")), undefined);
  assert.equal(sniffFormat(text("%PDF-1.7\n")), undefined);
  assert.equal(sniffFormat(noise(256)), undefined);
  assert.equal(sniffFormat(new Uint8Array()), undefined);
});

Deno.test("sniffFormat() wants a real DIB header after BM", () => {
  assert.equal(sniffFormat(new TextEncoder().encode("BMW owners club, 1998 edition")), undefined);
  assert.equal(sniffFormat(bytesOf("BM", le32(0), le32(0), le32(54), le32(41))), undefined);
  assert.equal(sniffFormat(bytesOf("RIFF", le32(4), "WAVE")), undefined);
});

// ---- JPEG ----

magickTest("probeImage() reads the size of a baseline JPEG", async () => {
  const jpeg = await convert([...gradient, "out.jpg"]);
  assert.ok(hasMarker(jpeg, 0xc0));
  assert.deepEqual(probeImage(jpeg, "jpeg"), { width: W, height: H, orientation: 1, bitDepth: 8 });
});

magickTest("probeImage() reads the size of a progressive JPEG", async () => {
  const jpeg = await convert([...gradient, "-interlace", "Plane", "out.jpg"]);
  assert.ok(hasMarker(jpeg, 0xc2));
  assertSize(jpeg, "jpeg", W, H);
});

magickTest("probeImage() reads the EXIF orientation ImageMagick writes into a JPEG", async () => {
  const plain = await convert([...gradient, "out.jpg"]);
  // convert only updates an existing EXIF block, so give it one.
  const withExif = bytesOf(plain.subarray(0, 2), exifSegment(1), plain.subarray(2));
  const expected = { "top-left": 1, "bottom-right": 3, "right-top": 6, "left-bottom": 8 };
  for (const [name, orientation] of Object.entries(expected)) {
    const jpeg = await convert(["in.jpg", "-orient", name, "out.jpg"], { "in.jpg": withExif });
    assert.equal(probeImage(jpeg, "jpeg").orientation, orientation, name);
  }
});

Deno.test("probeImage() reads the EXIF orientation in either byte order", () => {
  for (const little of [false, true]) {
    for (let orientation = 1; orientation <= 8; orientation++) {
      const jpeg = jpegHeader(30, 20, exifSegment(orientation, little));
      assert.equal(probeImage(jpeg, "jpeg").orientation, orientation);
    }
  }
});

Deno.test("probeImage() answers orientation 1 for missing, invalid or damaged EXIF", () => {
  assert.equal(probeImage(jpegHeader(30, 20), "jpeg").orientation, 1);
  assert.equal(probeImage(jpegHeader(30, 20, exifSegment(9)), "jpeg").orientation, 1);
  assert.equal(probeImage(jpegHeader(30, 20, exifSegment(0)), "jpeg").orientation, 1);
  const broken = bytesOf([0xff, 0xe1], be16(16), "Exif\0\0", "MM\0*", be32(9999));
  assertSize(jpegHeader(30, 20, broken), "jpeg", 30, 20);
});

Deno.test("probeImage() skips fill bytes and other segments before the frame header", () => {
  const app0 = bytesOf([0xff, 0xe0], be16(6), "JFIF");
  assertSize(jpegHeader(640, 480, app0, [0xff, 0xff, 0xff]), "jpeg", 640, 480);
  const dht = bytesOf([0xff, 0xc4], be16(3), [0]); // C4 is in the SOF range but is no SOF
  assertSize(jpegHeader(64, 48, dht), "jpeg", 64, 48);
});

Deno.test("probeImage() refuses a JPEG whose image data comes before any frame header", () => {
  const jpeg = bytesOf([0xff, 0xd8, 0xff, 0xda], be16(2), [0xff, 0xd9]);
  assertUnprocessable(() => probeImage(jpeg, "jpeg"), /frame header is missing/);
});

Deno.test("probeImage() refuses a JPEG with a zero-length segment instead of looping", () => {
  const jpeg = bytesOf([0xff, 0xd8, 0xff, 0xe0, 0, 0], [0xff, 0xe0, 0, 0]);
  assertUnprocessable(() => probeImage(jpeg, "jpeg"), /impossible length 0/);
});

// ---- PNG ----

magickTest(
  "probeImage() reads the size of 8-bit, 16-bit, palette, gray and interlaced PNGs",
  async () => {
    const variants: [string[], string, number, number, number][] = [
      // args, output, bit depth, colour type, interlace
      [[], "png24:out.png", 8, 2, 0],
      [["-depth", "16"], "png48:out.png", 16, 2, 0],
      [[], "png8:out.png", 8, 3, 0],
      [["-colorspace", "Gray", "-depth", "8"], "png:out.png", 8, 0, 0],
      [["-interlace", "PNG"], "png24:out.png", 8, 2, 1],
    ];
    for (const [args, output, depth, colorType, interlace] of variants) {
      const png = await convert([...gradient, ...args, output]);
      assert.deepEqual([...png.subarray(24, 26), png[28]], [depth, colorType, interlace], output);
      assert.deepEqual(probeImage(png, "png"), { width: W, height: H, orientation: 1 });
    }
  },
);

Deno.test("probeImage() refuses a PNG whose first chunk is not IHDR", () => {
  const png = bytesOf("\x89PNG\r\n\x1a\n", be32(0), "IEND", be32(0), be32(0), be32(0));
  assertUnprocessable(() => probeImage(png, "png"), /IHDR chunk is missing/);
});

Deno.test("probeImage() refuses an image claiming zero pixels", () => {
  assertUnprocessable(() => probeImage(pngHeader(0, 10), "png"), /the image is 0x10 pixels/);
  assertUnprocessable(() => probeImage(jpegHeader(10, 0), "jpeg"), /the image is 10x0 pixels/);
});

// ---- GIF ----

magickTest("probeImage() counts the frames of an animated GIF", async () => {
  const gif = await convert([...threeFrames, "out.gif"]);
  assert.deepEqual(probeImage(gif, "gif"), { width: W, height: H, frames: 3, orientation: 1 });
});

magickTest("probeImage() reads a still GIF as one frame", async () => {
  const gif = await convert([...gradient, "out.gif"]);
  assert.deepEqual(probeImage(gif, "gif"), { width: W, height: H, frames: 1, orientation: 1 });
});

Deno.test("probeImage() counts GIF frames through extensions, local palettes and junk", () => {
  const screen = bytesOf("GIF89a", le16(300), le16(200), [0x80, 0, 0], new Uint8Array(6));
  const control = bytesOf([0x21, 0xf9, 4, 0, 0, 0, 0, 0]);
  const comment = bytesOf([0x21, 0xfe, 3], "abc", [2], "de", [0]);
  const frame = bytesOf([0x2c], le16(0), le16(0), le16(1), le16(1), [0x81], new Uint8Array(12));
  const lzw = bytesOf([2, 2, 0x4c, 0x01, 0]);
  const gif = bytesOf(screen, control, frame, lzw, comment, frame, lzw, "junk");
  assert.equal(probeImage(gif, "gif").frames, 2);
});

Deno.test("probeImage() refuses a GIF without any image", () => {
  const gif = bytesOf("GIF89a", le16(10), le16(10), [0, 0, 0], [0x3b]);
  assertUnprocessable(() => probeImage(gif, "gif"), /no image/);
});

// ---- TIFF ----

magickTest("probeImage() reads the size of a TIFF in both byte orders", async () => {
  for (const endian of ["lsb", "msb"]) {
    const tiff = await convert([...gradient, "-define", `tiff:endian=${endian}`, "out.tif"]);
    assert.equal(String.fromCharCode(tiff[0]), endian === "lsb" ? "I" : "M");
    const { stripBytes, ...size } = probeImage(tiff, "tiff");
    assert.deepEqual(size, { width: W, height: H, orientation: 1 });
    assert.ok(stripBytes! > 0 && stripBytes! <= W * H * 8, `a strip of ${stripBytes} bytes`);
  }
});

magickTest("probeImage() reads the orientation of a TIFF", async () => {
  const tiff = await convert([...gradient, "-orient", "right-top", "out.tif"]);
  assert.equal(probeImage(tiff, "tiff").orientation, 6);
});

Deno.test("probeImage() reads TIFF sizes stored as SHORT or LONG", () => {
  for (const little of [false, true]) {
    const short = tiffOf(little, [[0x100, SHORT, 640], [0x101, SHORT, 480]]);
    assertSize(short, "tiff", 640, 480);
    const long = tiffOf(little, [[0x100, LONG, 100000], [0x101, LONG, 70000], [
      ORIENTATION,
      SHORT,
      5,
    ]]);
    // No compression tag: uncompressed, read a row at a time (1 bit a pixel by default).
    assert.deepEqual(probeImage(long, "tiff"), {
      width: 100000,
      height: 70000,
      orientation: 5,
      stripBytes: 12500,
    });
    // Deflate, 3 samples of 8 bits, no RowsPerStrip: one strip of the whole image.
    const deflated = tiffOf(little, [[0x100, SHORT, 640], [0x101, SHORT, 480], [0x102, SHORT, 8], [
      0x103,
      SHORT,
      8,
    ], [0x115, SHORT, 3]]);
    assert.equal(probeImage(deflated, "tiff").stripBytes, 640 * 480 * 3);
  }
});

Deno.test("probeImage() refuses a TIFF without a size", () => {
  const tiff = tiffOf(true, [[ORIENTATION, SHORT, 1]]);
  assertUnprocessable(() => probeImage(tiff, "tiff"), /0x0 pixels/);
});

// ---- WebP ----

magickTest("probeImage() reads the size of a lossy WebP", async () => {
  const webp = await convert([...gradient, "out.webp"]);
  assert.equal(new TextDecoder().decode(webp.subarray(12, 16)), "VP8 ");
  assert.deepEqual(probeImage(webp, "webp"), { width: W, height: H, orientation: 1 });
});

magickTest("probeImage() reads the size of a lossless WebP", async () => {
  const webp = await convert([...gradient, "-define", "webp:lossless=true", "out.webp"]);
  assert.equal(new TextDecoder().decode(webp.subarray(12, 16)), "VP8L");
  assert.deepEqual(probeImage(webp, "webp"), { width: W, height: H, orientation: 1 });
});

magickTest("probeImage() counts the frames of an animated WebP", async () => {
  const webp = await convert([...threeFrames, "out.webp"]);
  assert.equal(new TextDecoder().decode(webp.subarray(12, 16)), "VP8X");
  assert.deepEqual(probeImage(webp, "webp"), { width: W, height: H, frames: 3, orientation: 1 });
});

Deno.test("probeImage() reads the canvas and EXIF orientation of an extended WebP", () => {
  const exif = tiffOf(true, [[ORIENTATION, SHORT, 7]]);
  const webp = webpOf(vp8x(0x08, 20000, 3), ["VP8 ", new Uint8Array(10)], ["EXIF", exif]);
  assert.deepEqual(probeImage(webp, "webp"), { width: 20000, height: 3, orientation: 7 });
  const prefixed = webpOf(vp8x(0x08, 5, 5), ["EXIF", bytesOf("Exif\0\0", exif)]);
  assert.equal(probeImage(prefixed, "webp").orientation, 7);
});

Deno.test("probeImage() refuses an animated WebP without frames", () => {
  const webp = webpOf(vp8x(0x02, 10, 10), ["ANIM", new Uint8Array(6)]);
  assertUnprocessable(() => probeImage(webp, "webp"), /no frames/);
});

// ---- BMP ----

magickTest("probeImage() reads the size of BMPs with each common DIB header", async () => {
  for (const [output, dibSize] of [["bmp2:out.bmp", 12], ["bmp3:out.bmp", 40], ["out.bmp", 124]]) {
    const bmp = await convert([...gradient, output as string]);
    assert.equal(bmp[14], dibSize);
    assert.deepEqual(probeImage(bmp, "bmp"), { width: W, height: H, orientation: 1 });
  }
});

Deno.test("probeImage() reads a top-down BMP's height as positive", () => {
  const bmp = bytesOf("BM", le32(0), le32(0), le32(54), le32(40), le32(50), le32(-30 >>> 0));
  assertSize(bmp, "bmp", 50, 30);
});

// ---- bombs and hostile input ----

/** Probes and prints how long it took: a bomb must be refused long before any decoding. */
function timedProbe(bytes: Uint8Array, format: SourceFormat) {
  const start = performance.now();
  const info = probeImage(bytes, format);
  console.log(
    `probed a ${bytes.length}-byte ${format} bomb in ${(performance.now() - start).toFixed(3)} ms`,
  );
  return info;
}

Deno.test("probeImage() reads a PNG bomb's claimed size from its header alone", () => {
  const info = timedProbe(pngHeader(100000, 100000), "png");
  assert.deepEqual([info.width, info.height], [100000, 100000]);
});

Deno.test("probeImage() reads a JPEG bomb's claimed size from its header alone", () => {
  const info = timedProbe(jpegHeader(65000, 65000), "jpeg");
  assert.deepEqual([info.width, info.height], [65000, 65000]);
});

Deno.test("probeImage() refuses truncated headers", () => {
  assertUnprocessable(
    () => probeImage(pngHeader(10, 10).subarray(0, 20), "png"),
    /^Cannot read the PNG header: the file is truncated$/,
  );
  assertUnprocessable(() => probeImage(jpegHeader(10, 10).subarray(0, 8), "jpeg"), /truncated/);
  assertUnprocessable(() => probeImage(bytesOf("GIF89a", [1, 0]), "gif"), /truncated/);
  assertUnprocessable(() => probeImage(tiffOf(true, []).subarray(0, 6), "tiff"), /truncated/);
  assertUnprocessable(
    () => probeImage(webpOf(vp8x(0, 10, 10)).subarray(0, 26), "webp"),
    /truncated/,
  );
  assertUnprocessable(() =>
    probeImage(bytesOf([0xff, 0xd8, 0xff], new Uint8Array(9).fill(255)), "jpeg")
  );
});

Deno.test("probeImage() refuses bytes that are not of the format named", () => {
  assertUnprocessable(() => probeImage(noise(100), "png"), /not a PNG image/);
  assertUnprocessable(() => probeImage(pngHeader(10, 10), "jpeg"), /not a JPEG image/);
  assertUnprocessable(() => probeImage(bytesOf("\x89PNG\r\n\x1a\n", noise(100)), "png"));
});

magickTest("probeImage() ends on every prefix and mutation of real files", async () => {
  const files: [SourceFormat, Uint8Array][] = [
    ["jpeg", await convert([...gradient, "-interlace", "Plane", "out.jpg"])],
    ["png", await convert([...gradient, "out.png"])],
    ["gif", await convert([...threeFrames, "out.gif"])],
    ["tiff", await convert([...gradient, "out.tif"])],
    ["webp", await convert([...threeFrames, "out.webp"])],
    ["bmp", await convert([...gradient, "out.bmp"])],
  ];
  for (const [format, bytes] of files) {
    for (let end = 0; end < Math.min(bytes.length, 600); end++) {
      attempt(bytes.subarray(0, end), format);
    }
    for (let seed = 1; seed <= 300; seed++) {
      const mutated = bytes.slice();
      const [at, value] = noise(2, seed);
      mutated[(at * 7919 + seed) % mutated.length] = value;
      attempt(mutated, format);
    }
  }
});

/** Probing hostile bytes may succeed or fail, but only ever with Unprocessable. */
function attempt(bytes: Uint8Array, format: SourceFormat) {
  try {
    probeImage(bytes, format);
  } catch (error) {
    assert.ok(error instanceof Unprocessable, `${format}, ${bytes.length} bytes: ${error}`);
  }
}

Deno.test("probe: a progressive JPEG's scans are counted past its headers, a baseline one has none", async () => {
  const pixels = { create: { width: 64, height: 48, channels: 3 as const, background: "#468" } };
  const progressive = new Uint8Array(await sharp(pixels).jpeg({ progressive: true }).toBuffer());
  const baseline = new Uint8Array(await sharp(pixels).jpeg().toBuffer());
  const scans = probeImage(progressive, "jpeg", "libjpeg").progressiveScans ?? 0;
  assert.ok(scans > 1, `scans: ${scans}`);
  assert.equal(probeImage(progressive, "jpeg", "whole").progressiveScans, scans);
  assert.equal(probeImage(progressive, "jpeg", "headers").progressiveScans, undefined);
  assert.equal(probeImage(baseline, "jpeg", "whole").progressiveScans, undefined);
});
