// The newer filters through a real server on every installed backend: the windows a fill
// keeps, colour adjustments, padding, watermarks and AVIF, checked on pixels a user would see.
import assert from "node:assert/strict";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { gaussianBlur } from "../lib/image/blur.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { BitmapCanvas } from "../lib/pure/backend.ts";
import { sharpenBitmap } from "../lib/pure/ops.ts";
import { resize } from "../filters/resize.ts";
import {
  busyPatch,
  busyPixels,
  decode,
  encode,
  grayDeviation,
  makeBitmap,
  noOverlays,
  pixelAt,
  psnr,
  quadrantAt,
  quadrants,
  SharedServers,
  startBackendServer,
  type TestServer,
} from "./helpers.ts";

const backends = ["pure", "imagemagick", "graphicsmagick", "vips"] as const;

/** A smooth colour picture whose channels stay within 40..200, so +-20 % never clips. */
const soft = makeBitmap(200, 150, (x, y) => [
  120 + 80 * Math.sin(x / 23),
  120 + 70 * Math.cos(y / 19),
  120 + 60 * Math.sin((x + y) / 31),
  255,
]);

/** 300x200: red rises 0..255 left to right, blue top to bottom. */
const ramp = makeBitmap(300, 200, (x, y) => [x * 255 / 299, 0, y * 255 / 199, 255]);

/** 300x200 with detail on both axes: stripes of a 19-pixel period over two ramps. */
const stripes = makeBitmap(300, 200, (x, y) => [
  128 + 100 * Math.sin(x / 3),
  x * 255 / 299,
  128 + 100 * Math.cos(y / 3),
  255,
]);

/** 48x36, smaller than a large sharpen's kernel: a blob over two ramps. */
const small = makeBitmap(48, 36, (x, y) => [
  x * 5,
  y * 7,
  (x - 30) ** 2 + (y - 10) ** 2 < 64 ? 250 : 30,
  255,
]);

/** `size`² pixels of uneven colour and alpha: smaller than any but the slightest blur's kernel. */
const tiny = (size: number) =>
  makeBitmap(
    size,
    size,
    (x, y) => [(x * 97 + y * 31) % 256, 40 + 50 * y, 200 - 60 * x, 20 + 70 * x],
  );

/** 60x40 of busy colour under uneven alpha (40..250), never transparent. */
const veiled = makeBitmap(60, 40, (x, y) => [
  128 + 110 * Math.sin(x * 1.3 + y),
  (x * 37 + y * 11) % 256,
  128 + 110 * Math.cos(y * 0.9 - x),
  40 + ((x * 53 + y * 29) % 211),
]);

/**
 * 120x80: a disc of uneven alpha whose transparent surround still holds colour (as a palette's
 * transparent entry does): smartcrop scores colour alone, and the colour of faint and clear
 * pixels is what each backend's resampler leaves there.
 */
const disc = makeBitmap(120, 80, (x, y) => {
  const d = Math.hypot(x - 60, y - 40) / 40;
  const alpha = d > 1 ? 0 : Math.round(255 * (1 - d * d) * (0.5 + 0.5 * Math.sin(x / 7)));
  return [
    200 + 55 * Math.sin(y / 9),
    120 + 100 * Math.cos(x / 11),
    60 + 50 * Math.sin(x / 5),
    alpha,
  ];
});

/** The pure backend's `s,BOX-smart` of `bitmap`, run here: the window every backend must pick. */
async function smartFill(bitmap: Bitmap, box: string): Promise<Bitmap> {
  const canvas = new BitmapCanvas(bitmap);
  await resize.apply(canvas, resize.parse(`${box}-smart`, { maxBlurSigma: 0 }), canvas, noOverlays);
  return canvas.bitmap;
}

const files: Record<string, Uint8Array> = {
  "veiled.png": await encode(veiled, "png"),
  "tiny2.png": await encode(tiny(2), "png"),
  "tiny4.png": await encode(tiny(4), "png"),
  "quadrants.png": await encode(quadrants(400), "png"),
  "soft.png": await encode(soft, "png"),
  "busy.png": await encode(busyPatch(), "png"),
  "disc.png": await encode(disc, "png"),
  "alpha.png": await encode(makeBitmap(20, 10, (x) => [200, 100, 50, 10 * x]), "png"),
  "ramp.png": await encode(ramp, "png"),
  "stripes.png": await encode(stripes, "png"),
  "small.png": await encode(small, "png"),
  "fade.png": await encode(makeBitmap(256, 4, (x) => [40, 160, 220, x]), "png"),
  "stripes5.png": await encode(
    makeBitmap(80, 60, (x, y) => (x + y) % 10 < 5 ? [20, 20, 20, 255] : [0, 0, 0, 0]),
    "png",
  ),
};

/** Mean and standard deviation over R, G and B. */
function stats(bitmap: Bitmap): { mean: number; spread: number } {
  let sum = 0;
  let squares = 0;
  let count = 0;
  for (let i = 0; i < bitmap.data.length; i += 4) {
    for (let c = i; c < i + 3; c++) {
      sum += bitmap.data[c];
      squares += bitmap.data[c] ** 2;
      count++;
    }
  }
  const mean = sum / count;
  return { mean, spread: Math.sqrt(squares / count - mean * mean) };
}

/** How far `out`'s colour is from `reference`'s: the mean absolute difference over R, G and B. */
function colourOff(out: Bitmap, reference: Bitmap): number {
  let sum = 0;
  for (let i = 0; i < out.data.length; i++) {
    if (i % 4 !== 3) sum += Math.abs(out.data[i] - reference.data[i]);
  }
  return sum / (out.width * out.height * 3);
}

/** Fetches `path` below the root; the decoded image, or throws with the status and body. */
async function image(server: TestServer, path: string): Promise<Bitmap> {
  const response = await fetch(`${server.url}/${path}`);
  const body = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) {
    throw new Error(`${path}: ${response.status} ${new TextDecoder().decode(body)}`);
  }
  return decode(body);
}

/** One server per backend with `files`, for every test below that needs no config of its own. */
const servers = new SharedServers((backend) => startBackendServer(files, backend));

/**
 * A test that runs `check` against the shared server on `backend`; nothing (the helper says why)
 * when the backend is missing.
 */
function backendTest(name: string, backend: string, check: (server: TestServer) => Promise<void>) {
  servers.test(name, async () => {
    const server = await servers.get(backend);
    if (server) await check(server);
  });
}

for (const backend of backends) {
  backendTest(
    `${backend}: a fill keeps the window its gravity or focus point names`,
    backend,
    async (server) => {
      // Covering size 200x200; see filters_test.ts for the table's reading.
      const expected: Record<string, [tall: string, wide: string]> = {
        "": ["rg", "rb"],
        n: ["rg", "rr"],
        s: ["rg", "bb"],
        e: ["gg", "rb"],
        w: ["rr", "rb"],
        ne: ["gg", "rr"],
        nw: ["rr", "rr"],
        se: ["gg", "bb"],
        sw: ["rr", "bb"],
        "f0:0": ["rr", "rr"],
        "f1:1": ["gg", "bb"],
      };
      for (const [anchor, [tall, wide]] of Object.entries(expected)) {
        const column = await image(server, `s,100x200-${anchor}/png/files/quadrants.png`);
        assert.deepEqual([column.width, column.height], [100, 200]);
        assert.equal(quadrantAt(column, 10, 10) + quadrantAt(column, 90, 10), tall, anchor);
        const row = await image(server, `s,200x100-${anchor}/png/files/quadrants.png`);
        assert.deepEqual([row.width, row.height], [200, 100]);
        assert.equal(quadrantAt(row, 10, 10) + quadrantAt(row, 10, 90), wide, anchor);
      }
      // x = round(0.6 × 200 − 50) = 70: the red/green border lands at x = 30.
      const focus = await image(server, "s,100x200-f0.6:0.5/png/files/quadrants.png");
      assert.equal(quadrantAt(focus, 24, 10) + quadrantAt(focus, 36, 10), "rg");
    },
  );
}

for (const backend of backends) {
  backendTest(
    `${backend}: a smart fill keeps the busy patch, and the window pure picks`,
    backend,
    async (server) => {
      // Covering size 400x200, the patch at x 300..366 there: a centred crop loses it.
      const smart = await image(server, "s,200x200-smart/png/files/busy.png");
      assert.deepEqual([smart.width, smart.height], [200, 200]);
      assert.ok(busyPixels(smart) > 0.9 * 67 * 67, `kept ${busyPixels(smart)} busy pixels`);
      const tall = await image(server, "s,200x300-smart/png/files/busy.png");
      assert.deepEqual([tall.width, tall.height], [200, 300]);
      assert.ok(busyPixels(tall) > 0.9 * 100 * 100, `kept ${busyPixels(tall)} busy pixels`);
      // Scored as the picture shows (over black), the window no longer moves with the colour
      // under clear and faint pixels: s,45x45 of the disc was 35 levels off on the magick ones.
      for (const box of ["45x45", "40x40", "20x40"]) {
        const out = await image(server, `s,${box}-smart/png/files/disc.png`);
        const reference = await smartFill(disc, box);
        assert.ok(psnr(out, reference) > 35, `${box}: another window, ${psnr(out, reference)} dB`);
      }
    },
  );
}

for (const backend of backends) {
  backendTest(
    `${backend}: br, ct and sat move the mean and spread as documented`,
    backend,
    async (server) => {
      const before = stats(soft);
      const check = async (chain: string, mean: number, spread: number) => {
        const after = stats(await image(server, `${chain}/png/files/soft.png`));
        assert.ok(
          Math.abs(after.mean - mean) < 0.6,
          `${chain}: mean ${after.mean}, expected ${mean}`,
        );
        assert.ok(
          Math.abs(after.spread - spread) < 0.6,
          `${chain}: spread ${after.spread}, expected ${spread}`,
        );
      };
      // br,N: the mean moves by 2.55·N, the spread stays.
      await check("br,20", before.mean + 51, before.spread);
      await check("br,-20", before.mean - 51, before.spread);
      // ct,N: distances from 127.5 scale by 1 + N/100.
      await check("ct,50", 127.5 + 1.5 * (before.mean - 127.5), 1.5 * before.spread);
      await check("ct,-50", 127.5 + 0.5 * (before.mean - 127.5), 0.5 * before.spread);
      const grey = await image(server, "sat,-100/png/files/soft.png");
      assert.ok(grayDeviation(grey) <= 1, `sat,-100 leaves R, G, B ${grayDeviation(grey)} apart`);
      const vivid = await image(server, "sat,50/png/files/soft.png");
      const plain = await image(server, "sat,0/png/files/soft.png");
      assert.ok(grayDeviation(vivid) > grayDeviation(plain) * 1.4, "sat,50 adds colour");
    },
  );
}

for (const backend of backends) {
  backendTest(
    `${backend}: pad paints the border in its colour and alpha, the image untouched`,
    backend,
    async (server) => {
      const near = (got: number[], want: number[], what: string) =>
        assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= 1), `${what}: ${got} not ${want}`);
      const out = await image(server, "pad,300x200:ff000080/png/files/soft.png");
      assert.deepEqual([out.width, out.height], [300, 200]);
      // The 200x150 image at (50, 25).
      for (const [x, y] of [[0, 0], [49, 100], [250, 100], [100, 24], [100, 175], [299, 199]]) {
        near(pixelAt(out, x, y), [255, 0, 0, 128], `border at ${x},${y}`);
      }
      near(pixelAt(out, 50, 25), pixelAt(soft, 0, 0), "image's top-left");
      near(pixelAt(out, 249, 174), pixelAt(soft, 199, 149), "image's bottom-right");
      const clear = await image(server, "pad,201x151/png/files/soft.png");
      assert.deepEqual(pixelAt(clear, 200, 150)[3], 0, "the default border is transparent");
      // A half-transparent image keeps its own pixels on an opaque border.
      const kept = await image(server, "pad,30x10:0000ff/png/files/alpha.png");
      near(pixelAt(kept, 0, 5), [0, 0, 255, 255], "opaque border");
      near(pixelAt(kept, 15, 5), [200, 100, 50, 100], "the image's own alpha");
      // JPEG flattens the transparent border onto white.
      const flat = await image(server, "pad,260x150/jpeg,95/files/soft.png");
      near(pixelAt(flat, 5, 75).slice(0, 3), [255, 255, 255], "flattened border");
      const refused = await fetch(`${server.url}/pad,100x100/png/files/soft.png`);
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /200x150 image to 100x100/);
    },
  );
}

const watermarks = [
  { name: "logo", storage: "files", path: "logo.png", opacity: 0.5, scale: 0.25, margin: 10 },
  { name: "corner", storage: "files", path: "logo.png", gravity: "nw", scale: 0.1 },
];

/** 40x20: the left half opaque red, the right half transparent. */
const logo = makeBitmap(40, 20, (x) => x < 20 ? [255, 0, 0, 255] : [0, 0, 0, 0]);

for (const backend of backends) {
  Deno.test(`${backend}: wm places the mark by gravity, scale, margin and opacity`, async () => {
    const grey = await encode(makeBitmap(200, 100, () => [128, 128, 128, 255]), "png");
    const server = await startBackendServer(
      { "grey.png": grey, "logo.png": await encode(logo, "png") },
      backend,
      { watermarks },
    );
    if (!server) return;
    try {
      const near = (got: number[], want: number[], what: string) =>
        assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= 2), `${what}: ${got} not ${want}`);
      const first = await fetch(`${server.url}/wm,logo/png/files/grey.png`);
      const out = await decode(new Uint8Array(await first.arrayBuffer()));
      // se, 50x25 at (140, 65): the red half over x 140..164 at opacity 0.5.
      near(pixelAt(out, 150, 75), [192, 64, 64, 255], "half-opaque red");
      for (const [x, y] of [[136, 75], [180, 75], [150, 62], [150, 92], [5, 5]]) {
        near(pixelAt(out, x, y), [128, 128, 128, 255], `outside at ${x},${y}`);
      }
      // nw, scale 0.1: 20x10 at (0, 0), opaque; its red half is 10 wide.
      const corner = await image(server, "wm,corner/png/files/grey.png");
      near(pixelAt(corner, 4, 4), [255, 0, 0, 255], "opaque corner");
      near(pixelAt(corner, 4, 14), [128, 128, 128, 255], "below the corner mark");
      // Replacing the mark's file changes the result and its ETag.
      await Deno.writeFile(
        `${server.dir}/files/logo.png`,
        await encode(makeBitmap(80, 40, () => [0, 0, 255, 255]), "png"),
      );
      const second = await fetch(`${server.url}/wm,logo/png/files/grey.png`);
      const replaced = await decode(new Uint8Array(await second.arrayBuffer()));
      assert.notEqual(second.headers.get("etag"), first.headers.get("etag"));
      near(pixelAt(replaced, 150, 75), [64, 64, 192, 255], "the new mark");
      const unknown = await fetch(`${server.url}/wm,nope/png/files/grey.png`);
      assert.equal(unknown.status, 400);
      assert.match(
        await unknown.text(),
        /Unknown watermark "nope": expected one of "logo", "corner"/,
      );
    } finally {
      await server.close();
    }
  });
}

for (const backend of backends) {
  backendTest(
    `${backend}: a resize shrinking one axis and growing the other keeps the picture centred`,
    backend,
    async (server) => {
      // Each output pixel's centre maps to the source's (x + 0.5) · 300 / width − 0.5, so the
      // ramp's level there is exact up to the Lanczos ringing at the edges.
      const expect = (at: number, of: number, source: number) =>
        Math.max(0, Math.min(255, ((at + 0.5) * source / of - 0.5) * 255 / (source - 1)));
      for (const [width, height] of [[3, 406], [5, 1001], [600, 20]]) {
        const out = await image(server, `s,${width}x${height}/png/files/ramp.png`);
        assert.deepEqual([out.width, out.height], [width, height]);
        const x = Math.floor(width / 2);
        const y = Math.floor(height / 2);
        const [red, , blue] = pixelAt(out, x, y);
        assert.ok(Math.abs(red - expect(x, width, 300)) <= 3, `${width}x${height}: red ${red}`);
        assert.ok(Math.abs(blue - expect(y, height, 200)) <= 3, `${width}x${height}: blue ${blue}`);
        const [left] = pixelAt(out, 0, y);
        assert.ok(Math.abs(left - expect(0, width, 300)) <= 6, `${width}x${height}: left ${left}`);
      }
    },
  );
}

for (const backend of backends) {
  backendTest(
    `${backend}: a resize growing any axis matches Lanczos3 as closely as a shrink`,
    backend,
    async (server) => {
      // The shared resampler is within 1 level of ImageMagick's Lanczos on each of these.
      const sizes = [[150, 100], [300, 400], [301, 200], [600, 400], [100, 201], [3, 406]];
      for (const [width, height] of sizes) {
        const out = await image(server, `s,${width}x${height}/png/files/stripes.png`);
        const reference = resizeBitmap(stripes, width, height);
        let sum = 0;
        for (let i = 0; i < out.data.length; i++) {
          if (i % 4 !== 3) sum += Math.abs(out.data[i] - reference.data[i]);
        }
        const mean = sum / (width * height * 3);
        assert.ok(mean <= 1.5, `${width}x${height}: ${mean.toFixed(2)} levels off on average`);
      }
    },
  );
}

for (const backend of backends) {
  backendTest(
    `${backend}: a GIF keeps the pixels at least half opaque, drops the others`,
    backend,
    async (server) => {
      // fade.png: alpha = x. GIF has one transparent colour, so alpha 128 and up is opaque.
      const out = await image(server, "none/gif/files/fade.png");
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 256; x++) {
          const [red, green, blue, alpha] = pixelAt(out, x, y);
          assert.equal(alpha, x < 128 ? 0 : 255, `alpha at ${x},${y}`);
          if (alpha === 255) {
            const off = Math.max(Math.abs(red - 40), Math.abs(green - 160), Math.abs(blue - 220));
            assert.ok(off <= 16, `colour at ${x},${y}: ${red},${green},${blue}`);
          }
        }
      }
    },
  );
}

for (const backend of backends) {
  backendTest(
    `${backend}: b keeps alpha and colours far smaller than its kernel and under a sigma of 1`,
    backend,
    async (server) => {
      // GraphicsMagick's own blur lost weight there: 2x2 at b,3 kept a mean alpha of 38 of 82.5.
      for (const size of [2, 4]) {
        for (const sigma of [1, 3, 10]) {
          const out = await image(server, `b,${sigma}/png/files/tiny${size}.png`);
          const reference = gaussianBlur(tiny(size), sigma);
          let sum = 0;
          for (let i = 0; i < out.data.length; i++) {
            sum += Math.abs(out.data[i] - reference.data[i]);
          }
          const mean = sum / out.data.length;
          assert.ok(
            mean <= 3,
            `${size}x${size} b,${sigma}: ${mean.toFixed(2)} levels off on average`,
          );
        }
      }
      // Under a sigma of 1, b and sh are the sampled Gaussian's. A blur moves alpha about and
      // keeps its mean, 127.5 here: pure's recursion stopped being a low-pass filter there (78
      // at b,0.5), sharp's integer kernel lost 4.
      for (const sigma of [0.3, 0.5, 0.8]) {
        const out = await image(server, `b,${sigma}/png/files/stripes5.png`);
        let sum = 0;
        for (let i = 3; i < out.data.length; i += 4) sum += out.data[i];
        const mean = sum / (out.width * out.height);
        assert.ok(Math.abs(mean - 127.5) <= 1, `b,${sigma}: mean alpha ${mean.toFixed(2)}`);
      }
      // Pixel-sized detail: the magick libraries' kernels there are averages over each pixel,
      // a wider blur (4-5 levels off at 0.5); the Gaussian's samples are what b means.
      for (const sigma of [0.3, 0.5, 0.9]) {
        const blurred = await image(server, `b,${sigma}/png/files/veiled.png`);
        const off = colourOff(blurred, gaussianBlur(veiled, sigma));
        assert.ok(off <= 2, `b,${sigma}: ${off.toFixed(2)} levels off the sampled Gaussian`);
        const sharpened = await image(server, `sh,${sigma}/png/files/veiled.png`);
        const sharpOff = colourOff(sharpened, sharpenBitmap(veiled, sigma));
        assert.ok(sharpOff <= 2, `sh,${sigma}: ${sharpOff.toFixed(2)} levels off its mask`);
      }
    },
  );
}

for (const backend of backends) {
  backendTest(
    `${backend}: sh of an image of uneven alpha is the mask of b's blur`,
    backend,
    async (server) => {
      // ImageMagick's own mask blurred colour without weighting it by alpha: 4.5 levels off.
      for (const sigma of [1, 3]) {
        const out = await image(server, `sh,${sigma}/png/files/veiled.png`);
        const reference = sharpenBitmap(veiled, sigma);
        const mean = colourOff(out, reference);
        assert.ok(mean <= 2, `sh,${sigma}: ${mean.toFixed(2)} levels off on average`);
      }
    },
  );
}

for (const backend of backends) {
  backendTest(
    `${backend}: sh on an image smaller than its kernel matches the documented mask`,
    backend,
    async (server) => {
      // C' = C + (C − blur(C)), the edges repeated past the border as for b.
      for (const sigma of [1, 4, 10]) {
        const out = await image(server, `sh,${sigma}/png/files/small.png`);
        const reference = sharpenBitmap(small, sigma);
        const mean = colourOff(out, reference);
        assert.ok(mean <= 1.5, `sh,${sigma}: ${mean.toFixed(2)} levels off on average`);
      }
    },
  );
}

for (const backend of backends) {
  Deno.test(`${backend}: b and sh plan the frame of repeated edges their blur is made in`, async () => {
    // 1x2000 blurred at sigma 10 is framed to 61x2060 where the library repeats no edges: over
    // these limits, planned as a 400 on every backend, not a 422 from the library on one.
    const thin = await encode(makeBitmap(1, 2000, (_, y) => [y % 256, 90, 40, 255]), "png");
    const server = await startBackendServer({ "thin.png": thin }, backend, {
      image: { maxSourcePixels: 100000, maxOutputPixels: 100000 },
    });
    if (!server) return;
    try {
      for (const chain of ["b,10", "sh,10"]) {
        const response: Response = await fetch(`${server.url}/${chain}/png/files/thin.png`);
        const body = await response.text();
        assert.equal(response.status, 400, `${chain}: ${body}`);
        assert.match(body, /maxOutputPixels/);
      }
      const fits = await image(server, "b,5/png/files/thin.png");
      assert.deepEqual([fits.width, fits.height], [1, 2000]);
    } finally {
      await server.close();
    }
  });
}
servers.stopAfterTests("filters: (the servers the tests above shared stop)");
