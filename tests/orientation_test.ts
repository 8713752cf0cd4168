import assert from "node:assert/strict";
import { filters } from "../filters/mod.ts";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { BitmapCanvas } from "../lib/pure/backend.ts";
import {
  decode,
  encode,
  makeBitmap,
  noOverlays,
  pixelAt,
  type Rgba,
  startBackendServer,
  startTestServer,
} from "./helpers.ts";

// Upright: 60x40, red | green over blue | white.
const colours: Rgba[] = [[230, 20, 20, 255], [20, 200, 20, 255], [20, 20, 230, 255], [
  255,
  255,
  255,
  255,
]];
const upright = makeBitmap(60, 40, (x, y) => colours[(y < 20 ? 0 : 2) + (x < 30 ? 0 : 1)]);

/** How a camera stores the upright picture for each orientation: the inverse of the fix. */
const storing: Record<number, string[]> = {
  1: [],
  2: ["f,h"],
  3: ["r,180"],
  4: ["f,v"],
  5: ["f,v", "r,270"],
  6: ["r,90"],
  7: ["f,v", "r,90"],
  8: ["r,270"],
};

function applyChain(bitmap: Bitmap, tokens: string[]): Bitmap {
  const canvas = new BitmapCanvas(bitmap);
  for (const token of tokens) {
    const [name, arg] = token.split(",");
    const filter = filters.get(name)!;
    filter.apply(canvas, filter.parse(arg, { maxBlurSigma: 0 }), canvas, noOverlays);
  }
  return canvas.bitmap;
}

/** An APP1 segment with a big-endian TIFF IFD0: Orientation, and a GPS IFD with a latitude. */
function exifSegment(orientation: number): Uint8Array {
  const tiff = [
    ...[0x4d, 0x4d, 0, 42, 0, 0, 0, 8], // "MM", 42, IFD0 at 8
    ...[0, 2], // two entries
    ...[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0], // Orientation, SHORT
    ...[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38], // GPSInfo IFD at 38, LONG
    ...[0, 0, 0, 0], // no IFD1
    ...[0, 1, 0x00, 0x01, 0, 2, 0, 0, 0, 2, 0x4e, 0, 0, 0], // GPSLatitudeRef "N"
    ...[0, 0, 0, 0],
  ];
  const body = [...new TextEncoder().encode("Exif\0\0"), ...tiff];
  const length = body.length + 2;
  return new Uint8Array([0xff, 0xe1, length >> 8, length & 255, ...body]);
}

async function jpegWithOrientation(orientation: number): Promise<Uint8Array> {
  const jpeg = await encode(applyChain(upright, storing[orientation]), "jpeg", 95);
  const exif = exifSegment(orientation);
  return new Uint8Array([...jpeg.subarray(0, 2), ...exif, ...jpeg.subarray(2)]);
}

function assertUpright(image: Bitmap, name: string) {
  assert.deepEqual([image.width, image.height], [30, 20], name);
  const points = [[5, 5], [25, 5], [5, 15], [25, 15]];
  points.forEach(([x, y], i) => {
    const got = pixelAt(image, x, y);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(got[c] - colours[i][c]) <= 24, `${name}: (${x},${y}) is ${got}`);
    }
  });
}

const files: Record<string, Uint8Array> = {};
for (let o = 1; o <= 8; o++) files[`o${o}.jpg`] = await jpegWithOrientation(o);

for (const backend of ["pure", "imagemagick", "graphicsmagick", "vips"]) {
  Deno.test(`orientation: all eight EXIF orientations come out upright (${backend})`, async () => {
    const server = await startBackendServer(files, backend);
    if (!server) return;
    try {
      for (let o = 1; o <= 8; o++) {
        const response: Response = await fetch(`${server.url}/s,30x0/png/files/o${o}.jpg`);
        assert.equal(response.status, 200);
        assertUpright(await decode(new Uint8Array(await response.arrayBuffer())), `o${o}`);
      }
      const jpeg = await fetch(`${server.url}/s,30x0/jpeg/files/o6.jpg`);
      const bytes = new Uint8Array(await jpeg.arrayBuffer());
      const text = new TextDecoder("latin1").decode(bytes);
      assert.ok(!text.includes("Exif"), "no EXIF (and so no GPS) in the output");
    } finally {
      await server.close();
    }
  });
}

Deno.test("orientation: image.autoOrient false keeps the stored layout", async () => {
  const server = await startTestServer({ "o6.jpg": files["o6.jpg"] }, {
    image: { autoOrient: false },
  });
  try {
    const response = await fetch(`${server.url}/s,20x0/png/files/o6.jpg`);
    const image = await decode(new Uint8Array(await response.arrayBuffer()));
    assert.deepEqual([image.width, image.height], [20, 30]);
  } finally {
    await server.close();
  }
});
