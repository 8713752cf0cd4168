// Every source variant the README promises, made by ImageMagick from a picture of four coloured
// quadrants, decoded by the pure backend from its bytes alone, directly and through a server.
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { Unprocessable } from "../lib/errors.ts";
import { probeImage, readTiffTags } from "../lib/image/probe.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { sniffFormat } from "../lib/image/sniff.ts";
import { decode, pixelAt, requireCommand, type Rgba, startTestServer } from "./helpers.ts";

/** Top-left, top-right, bottom-left, bottom-right, each 32x24 of a 64x48 picture. */
type Quadrants = [Rgba, Rgba, Rgba, Rgba];

const colours: Quadrants = [
  [255, 0, 0, 255],
  [0, 255, 0, 255],
  [0, 0, 255, 255],
  [255, 255, 255, 255],
];
const translucent: Quadrants = [
  [255, 0, 0, 255],
  [0, 255, 0, 0],
  [0, 0, 255, 128],
  [255, 255, 255, 255],
];
const cutout: Quadrants = [
  [255, 0, 0, 255],
  [0, 255, 0, 0],
  [0, 0, 255, 255],
  [255, 255, 255, 255],
];
const grays: Quadrants = [
  [0, 0, 0, 255],
  [85, 85, 85, 255],
  [170, 170, 170, 255],
  [255, 255, 255, 255],
];
const grayAlpha: Quadrants = [
  [0, 0, 0, 255],
  [85, 85, 85, 128],
  [170, 170, 170, 255],
  [255, 255, 255, 0],
];
const bilevel: Quadrants = [
  [0, 0, 0, 255],
  [255, 255, 255, 255],
  [255, 255, 255, 255],
  [0, 0, 0, 255],
];

type Facts = Record<string, number | string | undefined>;

interface Variant {
  /** For the test name: `decodeBitmap() reads ${name}`. */
  name: string;
  /** The output for `convert`, with an optional format prefix: `PNG24:rgb.png`. */
  output: string;
  picture: Quadrants;
  /** `convert` options between the picture and the output. */
  options?: string[];
  /** What the file's headers must say, so the fixture is the variant the name claims. */
  facts: Facts;
  /** Per channel; lossless formats are exact but for rounding. */
  tolerance?: number;
}

const SOF0 = 0xc0;
const SOF2 = 0xc2;
const TIFF_NONE = 1;
const TIFF_LZW = 5;
const TIFF_PACKBITS = 32773;
const TIFF_RGB = 2;
const TIFF_GRAY = 1;
const UNASSOCIATED = 2;
const ASSOCIATED = 1;
const LOSSY = 12;
const EXACT = 1;

const variants: Variant[] = [
  {
    name: "a baseline JPEG",
    output: "baseline.jpg",
    picture: colours,
    options: ["-quality", "95"],
    facts: { frame: SOF0, components: 3 },
    tolerance: LOSSY,
  },
  {
    name: "a progressive JPEG",
    output: "progressive.jpg",
    picture: colours,
    options: ["-quality", "95", "-interlace", "JPEG"],
    facts: { frame: SOF2, components: 3 },
    tolerance: LOSSY,
  },
  {
    name: "a grayscale JPEG",
    output: "gray.jpg",
    picture: grays,
    options: ["-colorspace", "Gray", "-quality", "95"],
    facts: { frame: SOF0, components: 1 },
    tolerance: LOSSY,
  },
  {
    name: "a CMYK JPEG",
    output: "cmyk.jpg",
    picture: colours,
    options: ["-colorspace", "CMYK", "-quality", "95"],
    facts: { frame: SOF0, components: 4 },
    tolerance: LOSSY,
  },
  {
    name: "an 8-bit RGB PNG",
    output: "PNG24:rgb.png",
    picture: colours,
    facts: { bitDepth: 8, colorType: 2, interlace: 0 },
  },
  {
    name: "an RGBA PNG",
    output: "PNG32:rgba.png",
    picture: translucent,
    facts: { bitDepth: 8, colorType: 6 },
  },
  {
    name: "a 16-bit PNG",
    output: "PNG48:rgb16.png",
    picture: colours,
    facts: { bitDepth: 16, colorType: 2 },
  },
  {
    name: "a 16-bit RGBA PNG",
    output: "PNG64:rgba16.png",
    picture: translucent,
    facts: { bitDepth: 16, colorType: 6 },
  },
  {
    name: "a palette PNG",
    output: "PNG8:palette.png",
    picture: colours,
    facts: { colorType: 3, transparency: "no" },
  },
  {
    name: "a palette PNG with transparency",
    output: "PNG8:palette-alpha.png",
    picture: cutout,
    facts: { colorType: 3, transparency: "yes" },
  },
  {
    name: "a gray PNG",
    output: "gray.png",
    picture: grays,
    options: ["-colorspace", "Gray"],
    facts: { colorType: 0 },
  },
  {
    name: "a 16-bit gray PNG",
    output: "gray16.png",
    picture: grays,
    options: ["-colorspace", "Gray", "-define", "png:bit-depth=16"],
    facts: { bitDepth: 16, colorType: 0 },
  },
  {
    name: "a gray+alpha PNG",
    output: "gray-alpha.png",
    picture: grayAlpha,
    options: ["-colorspace", "Gray", "-define", "png:color-type=4"],
    facts: { bitDepth: 8, colorType: 4 },
  },
  {
    name: "an interlaced PNG",
    output: "PNG24:interlaced.png",
    picture: colours,
    options: ["-interlace", "PNG"],
    facts: { colorType: 2, interlace: 1 },
  },
  {
    name: "a 1-bit PNG",
    output: "bilevel.png",
    picture: bilevel,
    options: ["-colorspace", "Gray", "-define", "png:bit-depth=1"],
    facts: { bitDepth: 1, colorType: 0 },
  },
  {
    name: "the first frame of an animated GIF, with transparency",
    output: "animated.gif",
    picture: cutout,
    options: ["(", "-size", "64x48", "xc:black", ")"],
    facts: { frames: 2 },
  },
  {
    name: "an uncompressed RGB TIFF",
    output: "rgb.tif",
    picture: colours,
    options: ["-depth", "8", "-type", "TrueColor", "-compress", "None"],
    facts: { compression: TIFF_NONE, photometric: TIFF_RGB, samples: 3 },
  },
  {
    name: "an LZW RGB TIFF",
    output: "rgb-lzw.tif",
    picture: colours,
    options: ["-depth", "8", "-type", "TrueColor", "-compress", "LZW"],
    facts: { compression: TIFF_LZW, photometric: TIFF_RGB, samples: 3 },
  },
  {
    name: "a PackBits RGB TIFF",
    output: "rgb-packbits.tif",
    picture: colours,
    options: ["-depth", "8", "-type", "TrueColor", "-compress", "RLE"],
    facts: { compression: TIFF_PACKBITS, photometric: TIFF_RGB, samples: 3 },
  },
  {
    name: "a 16-bit RGB TIFF",
    output: "rgb16.tif",
    picture: colours,
    options: ["-type", "TrueColor", "-depth", "16", "-compress", "LZW"],
    facts: { compression: TIFF_LZW, photometric: TIFF_RGB, samples: 3 },
  },
  {
    name: "an RGBA TIFF",
    output: "rgba.tif",
    picture: translucent,
    options: ["-depth", "8", "-type", "TrueColorAlpha", "-compress", "LZW"],
    facts: { photometric: TIFF_RGB, samples: 4, extraSamples: UNASSOCIATED },
  },
  {
    name: "an RGBA TIFF with premultiplied alpha",
    output: "rgba-premultiplied.tif",
    picture: translucent,
    options: [
      "-depth",
      "8",
      "-type",
      "TrueColorAlpha",
      "-compress",
      "LZW",
      "-define",
      "tiff:alpha=associated",
    ],
    facts: { photometric: TIFF_RGB, samples: 4, extraSamples: ASSOCIATED },
  },
  {
    name: "a gray TIFF",
    output: "gray.tif",
    picture: grays,
    options: ["-depth", "8", "-colorspace", "Gray", "-compress", "LZW"],
    facts: { compression: TIFF_LZW, photometric: TIFF_GRAY, bits: 8 },
  },
  {
    name: "a 16-bit gray TIFF",
    output: "gray16.tif",
    picture: grays,
    options: ["-colorspace", "Gray", "-depth", "16", "-compress", "None"],
    facts: { compression: TIFF_NONE, photometric: TIFF_GRAY, bits: 16 },
  },
  {
    name: "a lossy WebP",
    output: "lossy.webp",
    picture: colours,
    options: ["-quality", "90"],
    facts: { chunk: "VP8 " },
    tolerance: LOSSY,
  },
  {
    name: "a lossless WebP with alpha",
    output: "lossless.webp",
    picture: translucent,
    options: ["-define", "webp:lossless=true"],
    facts: { chunk: "VP8L" },
  },
];

/** TIFF variants ImageScript 1.3.1's decoder cannot read: a clean 422, never garbage pixels. */
const refused: Variant[] = [
  {
    name: "a Deflate TIFF",
    output: "deflate.tif",
    picture: colours,
    options: ["-depth", "8", "-type", "TrueColor", "-compress", "Zip"],
    facts: { compression: 8 },
  },
  {
    name: "a JPEG-compressed TIFF",
    output: "jpeg.tif",
    picture: colours,
    options: ["-depth", "8", "-type", "TrueColor", "-compress", "JPEG"],
    facts: { compression: 7 },
  },
  {
    name: "a palette TIFF",
    output: "palette.tif",
    picture: colours,
    options: ["-depth", "8", "-type", "Palette", "-compress", "LZW"],
    facts: { photometric: 3 },
  },
  {
    name: "a gray+alpha TIFF",
    output: "gray-alpha.tif",
    picture: grayAlpha,
    options: ["-depth", "8", "-type", "GrayscaleAlpha", "-compress", "LZW"],
    facts: { photometric: TIFF_GRAY, samples: 2 },
  },
  {
    name: "a CMYK TIFF",
    output: "cmyk.tif",
    picture: colours,
    options: ["-depth", "8", "-colorspace", "CMYK", "-compress", "LZW"],
    facts: { photometric: 5 },
  },
  {
    name: "a 1-bit TIFF",
    output: "bilevel.tif",
    picture: bilevel,
    options: ["-type", "Bilevel", "-depth", "1", "-compress", "None"],
    facts: { bits: 1 },
  },
];

function fileName(variant: Variant): string {
  return variant.output.slice(variant.output.indexOf(":") + 1);
}

function xc([r, g, b, a]: Rgba): string {
  return a === 255 ? `xc:rgb(${r},${g},${b})` : `xc:rgba(${r},${g},${b},${a / 255})`;
}

/** The `convert` arguments that draw the four quadrants. */
function drawing([topLeft, topRight, bottomLeft, bottomRight]: Quadrants): string[] {
  return ["-size", "32x24", xc(topLeft), xc(topRight), "+append"]
    .concat(["(", xc(bottomLeft), xc(bottomRight), "+append", ")", "-append"]);
}

async function makeFixture(dir: string, variant: Variant): Promise<Uint8Array> {
  const args = [...drawing(variant.picture), ...variant.options ?? []];
  const output = variant.output.replace(fileName(variant), join(dir, fileName(variant)));
  const { success, stderr } = await new Deno.Command("convert", { args: [...args, output] })
    .output();
  if (!success) throw new Error(`convert ${variant.output}: ${new TextDecoder().decode(stderr)}`);
  return Deno.readFile(join(dir, fileName(variant)));
}

async function makeFixtures(): Promise<Record<string, Uint8Array>> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-decode-" });
  try {
    const all = [...variants, ...refused];
    const bytes = await Promise.all(all.map((variant) => makeFixture(dir, variant)));
    return Object.fromEntries(all.map((variant, i) => [fileName(variant), bytes[i]]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const haveConvert = await requireCommand("convert");
const files = haveConvert ? await makeFixtures() : {};

function jpegFacts(bytes: Uint8Array): Facts {
  for (let at = 2; at + 9 < bytes.length; at += 2 + (bytes[at + 2] << 8 | bytes[at + 3])) {
    const marker = bytes[at + 1];
    if (marker === SOF0 || marker === SOF2) return { frame: marker, components: bytes[at + 9] };
  }
  return {};
}

function pngFacts(bytes: Uint8Array): Facts {
  const hasChunk = (name: string) => new TextDecoder("latin1").decode(bytes).includes(name);
  return {
    bitDepth: bytes[24],
    colorType: bytes[25],
    interlace: bytes[28],
    transparency: hasChunk("tRNS") ? "yes" : "no",
  };
}

function tiffFacts(bytes: Uint8Array): Facts {
  const tags = readTiffTags(bytes);
  return {
    compression: tags.get(259),
    photometric: tags.get(262),
    bits: tags.get(258),
    samples: tags.get(277),
    extraSamples: tags.get(338),
  };
}

/** What the headers say about the variant, by format. */
function factsOf(bytes: Uint8Array): Facts {
  const format = sniffFormat(bytes);
  if (format === "jpeg") return jpegFacts(bytes);
  if (format === "png") return pngFacts(bytes);
  if (format === "tiff") return tiffFacts(bytes);
  if (format === "gif") return { frames: probeImage(bytes, "gif").frames };
  if (format === "webp") return { chunk: new TextDecoder().decode(bytes.subarray(12, 16)) };
  return {};
}

function assertVariant(bytes: Uint8Array, variant: Variant): void {
  const facts = factsOf(bytes);
  const claimed = Object.fromEntries(Object.keys(variant.facts).map((key) => [key, facts[key]]));
  assert.deepEqual(claimed, variant.facts, `${variant.output} is not ${variant.name}`);
}

/** Checks the centre of each quadrant; the colour of a transparent pixel does not matter. */
function assertQuadrants(bitmap: Bitmap, expected: Quadrants, tolerance: number): void {
  const { width, height } = bitmap;
  const centres = [[1, 1], [3, 1], [1, 3], [3, 3]].map(([x, y]) => [
    Math.floor((x * width) / 4),
    Math.floor((y * height) / 4),
  ]);
  centres.forEach(([x, y], i) => {
    const actual = pixelAt(bitmap, x, y);
    const channels = expected[i][3] === 0 ? [3] : [0, 1, 2, 3];
    const off = channels.some((c) => Math.abs(actual[c] - expected[i][c]) > tolerance);
    assert.ok(!off, `at ${x},${y}: ${actual} is not within ${tolerance} of ${expected[i]}`);
  });
}

for (const variant of variants) {
  Deno.test({
    name: `decodeBitmap() reads ${variant.name}`,
    ignore: !haveConvert,
    async fn() {
      const bytes = files[fileName(variant)];
      assertVariant(bytes, variant);
      const bitmap = await decodeBitmap(bytes, sniffFormat(bytes)!);
      assert.deepEqual([bitmap.width, bitmap.height], [64, 48]);
      assertQuadrants(bitmap, variant.picture, variant.tolerance ?? EXACT);
    },
  });
}

for (const variant of refused) {
  Deno.test({
    name: `decodeBitmap() refuses ${variant.name} as unprocessable`,
    ignore: !haveConvert,
    async fn() {
      const bytes = files[fileName(variant)];
      assertVariant(bytes, variant);
      await assert.rejects(decodeBitmap(bytes, sniffFormat(bytes)!), Unprocessable);
    },
  });
}

Deno.test({
  name: "server resizes every source variant and refuses the unreadable TIFFs with 422",
  ignore: !haveConvert,
  async fn(t) {
    const server = await startTestServer(files);
    try {
      for (const variant of variants) {
        await t.step(variant.name, async () => {
          const response = await fetch(`${server.url}/s,32x0/png/files/${fileName(variant)}`);
          const body = new Uint8Array(await response.arrayBuffer());
          assert.equal(response.status, 200, new TextDecoder().decode(body));
          const bitmap = await decode(body);
          assert.deepEqual([bitmap.width, bitmap.height], [32, 24]);
          assertQuadrants(bitmap, variant.picture, (variant.tolerance ?? EXACT) + 2);
        });
      }
      for (const variant of refused) {
        const response = await fetch(`${server.url}/s,32x0/png/files/${fileName(variant)}`);
        assert.equal(response.status, 422, variant.name);
        assert.match(await response.text(), /TIFF/);
      }
    } finally {
      await server.close();
    }
  },
});

/** A 35-byte GIF: a 16x16 logical screen whose only frame claims 20000x20000 pixels. */
function gifBomb(): Uint8Array {
  const header = [..."GIF89a"].map((c) => c.charCodeAt(0));
  const screen = [16, 0, 16, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255]; // two-colour palette
  const frame = [0x2c, 0, 0, 0, 0, 0x20, 0x4e, 0x20, 0x4e, 0]; // 20000 is 0x4e20
  const pixels = [2, 2, 0x4c, 0x01, 0, 0x3b];
  return new Uint8Array([...header, ...screen, ...frame, ...pixels]);
}

Deno.test("server refuses a GIF frame larger than its logical screen, unread", async () => {
  const server = await startTestServer({ "bomb.gif": gifBomb() });
  try {
    for (const format of ["png", "gif"]) {
      const response = await fetch(`${server.url}/s,8x0/${format}/files/bomb.gif`);
      assert.equal(response.status, 422, format);
      assert.match(await response.text(), /beyond the 16x16 logical screen/);
    }
  } finally {
    await server.close();
  }
});
