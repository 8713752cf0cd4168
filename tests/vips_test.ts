// What the vips backend does beyond the shared URL table (tests/backends_test.ts): colour
// profiles, exact palette PNGs, the loaders it allows, format size limits, and a deadline that
// stops libvips itself.
import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { Unprocessable } from "../lib/errors.ts";
import { createVipsBackend } from "../lib/vips/backend.ts";
import {
  decode,
  encode,
  makeBitmap,
  photoLike,
  pixelAt,
  skipWithout,
  sleep,
  startTestServer,
} from "./helpers.ts";
import { tiffHeaderBytes, writeTiffHeader } from "./hostile_images.ts";
import { cpuSeconds, processesUnder } from "./child_server.ts";

const backend = createVipsBackend({ maxSourcePixels: 50_000_000 });

async function convert(...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("convert", { args }).output();
  if (!success) throw new Error(`convert ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

/** The sRGB colour ImageMagick reads at (x, y) of `file`, after applying `options`. */
async function magickPixel(file: string, options: string[], x = 10, y = 10): Promise<number[]> {
  const text = await convert(
    file,
    ...options,
    "-depth",
    "8",
    "-format",
    `%[pixel:p{${x},${y}}]`,
    "info:",
  );
  return text.replace(/^\w+\(|\)$/g, "").split(",").map(Number);
}

function near(actual: number[], expected: number[], tolerance: number): boolean {
  return expected.every((value, i) => Math.abs(actual[i] - value) <= tolerance);
}

/** The PNG's colour type, from its IHDR. */
function pngColourType(bytes: Uint8Array): number {
  return bytes[25];
}

function contains(bytes: Uint8Array, text: string): boolean {
  return new TextDecoder("latin1").decode(bytes).includes(text);
}

Deno.test({
  name: "vips: sources with a Display P3 or CMYK profile come out in sRGB, profile stripped",
  ignore: await skipWithout("convert"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "impressionist-icc-" });
    const path = (name: string) => join(dir, name);
    try {
      // libvips ships these three profiles; ImageMagick (its own lcms) makes the sources.
      for (const profile of ["srgb", "p3", "cmyk"]) {
        await sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } })
          .withIccProfile(profile).jpeg().toFile(path(`${profile}-carrier.jpg`));
        await convert(path(`${profile}-carrier.jpg`), path(`${profile}.icc`));
      }
      const colour = "xc:rgb(200,50,50)";
      const srgb = ["-profile", path("srgb.icc")];
      const sources: [string, string[]][] = [
        ["p3.jpg", [...srgb, "-profile", path("p3.icc")]],
        ["p3.png", [...srgb, "-profile", path("p3.icc"), "-depth", "16"]],
        ["cmyk.jpg", [...srgb, "-profile", path("cmyk.icc")]],
      ];
      const files: Record<string, Uint8Array> = {};
      for (const [name, options] of sources) {
        await convert("-size", "64x48", colour, ...options, path(name));
        files[name] = await Deno.readFile(path(name));
      }
      const server = await startTestServer(files, { backend: "vips" });
      try {
        for (const [name] of sources) {
          // What the colour is in sRGB, converted by ImageMagick, and what a reader that
          // ignores the profile would show.
          const expected = await magickPixel(path(name), ["-profile", path("srgb.icc")]);
          const ignored = await magickPixel(path(name), ["-colorspace", "sRGB"]);
          assert.ok(!near(ignored, expected, 12), `${name}: the profile matters (${ignored})`);
          for (const format of ["png", "jpeg"]) {
            const response = await fetch(`${server.url}/s,32x0/${format}/files/${name}`);
            assert.equal(response.status, 200, `${name} as ${format}`);
            const body = new Uint8Array(await response.arrayBuffer());
            const got = pixelAt(await decode(body), 16, 12).slice(0, 3);
            assert.ok(
              near(got, expected, 12),
              `${name} as ${format}: ${got}, expected ${expected}`,
            );
            assert.ok(!contains(body, "iCCP") && !contains(body, "ICC_PROFILE"), "no profile");
          }
        }
      } finally {
        await server.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("vips: PNG is a palette up to 256 colours (exact), gray when opaque gray, else RGB", async () => {
  // 200 colours, a third of them half transparent.
  const colours = Array.from({ length: 200 }, (_, i) => [
    (i * 37) % 256,
    (i * 91) % 256,
    (i * 53 + 7) % 256,
    i % 3 === 0 ? 128 : 255,
  ]);
  const palette = makeBitmap(120, 80, (x, y) => colours[(x * 7 + y * 13) % 200]);
  const gray = makeBitmap(120, 80, (x, y) => [x + y, x + y, x + y, 255]);
  const server = await startTestServer({
    "palette.png": await encode(palette, "png"),
    "gray.png": await encode(gray, "png"),
    "photo.png": await encode(photoLike(120, 80), "png"),
  }, { backend: "vips" });
  try {
    const get = async (name: string) => {
      const response = await fetch(`${server.url}/f,h,f,h/png/files/${name}`);
      assert.equal(response.status, 200, name);
      return new Uint8Array(await response.arrayBuffer());
    };
    const indexed = await get("palette.png");
    assert.equal(pngColourType(indexed), 3, "indexed colour");
    assert.deepEqual((await decode(indexed)).data, palette.data, "every colour kept exactly");
    const grayPng = await get("gray.png");
    assert.equal(pngColourType(grayPng), 0, "8-bit gray");
    assert.deepEqual((await decode(grayPng)).data, gray.data);
    assert.equal(pngColourType(await get("photo.png")), 2, "RGB");
  } finally {
    await server.close();
  }
});

Deno.test("vips: only the loaders of the formats we read are open", async () => {
  // libvips would read an SVG from these bytes; the server never names it a source format.
  const svg = new TextEncoder().encode(
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>',
  );
  await assert.rejects(backend.decode(svg, "png", { allFrames: false }), Unprocessable);
});

Deno.test("vips: a worker opened after the first leaves the process's loader blocks alone", async () => {
  // Blocking every loader and unblocking ours again is process-wide: done by a worker started
  // while others decode in their threads (the spare, a replacement), it failed their loads for
  // a moment.
  const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#888" } })
    .jpeg().toBuffer();
  const decodes = async () => {
    const canvas = await backend.decode(new Uint8Array(jpeg), "jpeg", { allFrames: false });
    canvas.dispose();
  };
  sharp.block({ operation: ["VipsForeignLoadJpegBuffer"] });
  try {
    // A later worker's open: the blocks stay exactly as they are (here JPEG still blocked).
    createVipsBackend({ maxSourcePixels: 50_000_000 }, false);
    await assert.rejects(decodes(), Unprocessable);
    // The first open in a process sets them: every loader blocked but ours.
    createVipsBackend({ maxSourcePixels: 50_000_000 }, true);
    await decodes();
  } finally {
    sharp.unblock({ operation: ["VipsForeignLoadJpegBuffer"] });
  }
});

Deno.test("vips: a truncated JPEG is a 422, not a half-grey image", async () => {
  const jpeg = await encode(photoLike(320, 240), "jpeg");
  const canvas = await backend.decode(jpeg.subarray(0, jpeg.length >> 1), "jpeg", {
    allFrames: false,
  });
  canvas.resize({ width: 100, height: 75 });
  await assert.rejects(backend.encode(canvas, { type: "png", quality: 80 }), Unprocessable);
});

/**
 * An uncompressed 8x8 TIFF of `samples` 8-bit samples a pixel, photometric gray, one of them
 * marked an extra sample: libvips reads the rest as more bands (5 channels for 3 samples).
 */
function grayWithExtraSamples(samples: number): Uint8Array {
  const side = 8;
  const dataAt = tiffHeaderBytes(10);
  const out = new Uint8Array(dataAt + side * side * samples).fill(99, dataAt);
  writeTiffHeader(out, [
    [256, 4, 1, side],
    [257, 4, 1, side],
    [258, 3, 1, 8],
    [259, 3, 1, 1],
    [262, 3, 1, 1],
    [273, 4, 1, dataAt],
    [277, 3, 1, samples],
    [278, 4, 1, side],
    [279, 4, 1, side * side * samples],
    [338, 3, 1, 0],
  ]);
  return out;
}

Deno.test("vips: a TIFF that decodes to other than RGB or RGBA is a 422, never a 500", async () => {
  const server = await startTestServer({ "bands.tif": grayWithExtraSamples(3) }, {
    backend: "vips",
  });
  try {
    for (const chain of ["s,4x4", "none", "f,h", "br,10,s,4x4"]) {
      const response = await fetch(`${server.url}/${chain}/png/files/bands.tif`);
      const text = await response.text();
      assert.equal(response.status, 422, `${chain}: ${text}`);
      assert.match(text, /Cannot decode the tiff source/, chain);
    }
  } finally {
    await server.close();
  }
});

Deno.test("vips: an output over a format's size limit is a 400", async () => {
  const server = await startTestServer(
    { "photo.jpg": await encode(photoLike(64, 48), "jpeg") },
    { backend: "vips" },
  );
  try {
    // WebP holds at most 16383 pixels a side.
    const response = await fetch(`${server.url}/s,16384x8/webp/files/photo.jpg`);
    assert.equal(response.status, 400, await response.text());
    const fits = await fetch(`${server.url}/s,16383x8/webp/files/photo.jpg`);
    assert.equal(fits.status, 200);
    await fits.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("vips: a request past http.timeout is a 503 and its libvips work stops", async () => {
  // A 24-megapixel blur at sigma 50 takes a core for about 15 s here.
  const big = await sharp({
    create: { width: 6000, height: 4000, channels: 3, background: "#808080" },
  }).jpeg().toBuffer();
  const server = await startTestServer({ "big.jpg": new Uint8Array(big) }, {
    backend: "vips",
    http: { timeout: "1s" },
  });
  try {
    // The server runs in this process: its workers' job processes are this one's children. The
    // heavy job starts its worker's (150–450 ms).
    const answer = fetch(`${server.url}/b,50/png/files/big.jpg`);
    await sleep(700);
    const before = new Set(processesUnder(Deno.pid));
    const response = await answer;
    assert.equal(response.status, 503);
    await response.body?.cancel();
    // The job's process is killed at the 503, and none starts in its place until a job needs it.
    await sleep(500);
    const after = new Set(processesUnder(Deno.pid));
    const killed = [...before].filter((pid) => !after.has(pid));
    assert.equal(killed.length, 1, `job processes before ${[...before]}, after ${[...after]}`);
    assert.equal(after.size, before.size - 1, "no successor until a heavy job needs one");
    // From 0.5 s after the 503, nothing runs.
    const cpu = cpuSeconds("self");
    await sleep(3000);
    const used = cpuSeconds("self") - cpu;
    // An idle server uses well under a millisecond here; the blur still running would use up to
    // 3 s of CPU in these 3 s (it took 15 s, and sharp's own timeout counts whole seconds from the
    // pipeline's start), and this counts the job processes' CPU too.
    assert.ok(used < 0.1, `${used.toFixed(2)} s of CPU in 3 s from 0.5 s after the deadline`);
  } finally {
    await server.close();
  }
});
