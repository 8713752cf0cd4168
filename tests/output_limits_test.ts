// Server-level rows of issue 12 about limits: each format's side limit, animations counted
// whole, fill's pre-crop size, and headers a decoder could read otherwise than the probe.
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { decodeGifFrames } from "../lib/pure/gif.ts";
import { probeImage } from "../lib/image/probe.ts";
import { sniffFormat } from "../lib/image/sniff.ts";
import { photoLike, SharedServers, startBackendServer, type TestServer } from "./helpers.ts";
import { tiffHeaderBytes, writeTiffHeader } from "./hostile_images.ts";
import { withScans } from "./jpeg_markers.ts";

const backends = ["pure", "imagemagick", "graphicsmagick"];

async function get(server: TestServer, path: string, accept = "*/*") {
  const response = await fetch(`${server.url}/${path}`, { headers: { accept } });
  return { status: response.status, body: new Uint8Array(await response.arrayBuffer()), response };
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** The server still serves a normal request and says it is healthy. */
async function stillAnswers(server: TestServer): Promise<void> {
  const health = await fetch(new URL("/health", server.url));
  assert.equal(health.status, 200, await health.text());
  const normal = await get(server, "s,20x0/png/files/photo.jpg");
  assert.equal(normal.status, 200, text(normal.body));
}

const le16 = (value: number) => [value & 0xff, value >> 8];

/**
 * A GIF whose logical screen is `width`x`height` and whose `frames` frames are one pixel each
 * (about 30 bytes a frame): the kind of file that makes a decoder allocate a whole screen per
 * frame.
 */
function onePixelFramesGif(width: number, height: number, frames: number): Uint8Array {
  const bytes = [..."GIF89a"].map((c) => c.charCodeAt(0));
  bytes.push(...le16(width), ...le16(height), 0x80, 0, 0, 255, 0, 0, 0, 0, 255);
  bytes.push(0x21, 0xff, 11, ..."NETSCAPE2.0".split("").map((c) => c.charCodeAt(0)), 3, 1, 0, 0, 0);
  for (let i = 0; i < frames; i++) {
    bytes.push(0x21, 0xf9, 4, 0, 10, 0, 0, 0); // 100 ms
    bytes.push(0x2c, ...le16(i % width), ...le16(0), ...le16(1), ...le16(1), 0);
    // LZW with 2-bit codes: clear (4), index 0, end (5), packed low bits first.
    bytes.push(2, 2, 0x44, 0x01, 0);
  }
  bytes.push(0x3b);
  return new Uint8Array(bytes);
}

/** An uncompressed 8-bit gray TIFF; `widths` are the ImageWidth tags written, in order. */
function grayTiff(widths: number[], realWidth: number, height: number): Uint8Array {
  const tags: [number, number][] = [
    ...widths.map((width): [number, number] => [256, width]),
    [257, height],
    [258, 8],
    [259, 1],
    [262, 1],
    [273, 0], // the strip offset, filled in below
    [277, 1],
    [278, height],
    [279, realWidth * height],
  ];
  const ifdSize = 2 + tags.length * 12 + 4;
  const dataAt = 8 + ifdSize;
  const out = new Uint8Array(dataAt + realWidth * height);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, 8, true);
  view.setUint16(8, tags.length, true);
  tags.forEach(([tag, value], i) => {
    const entry = 10 + i * 12;
    view.setUint16(entry, tag, true);
    view.setUint16(entry + 2, 4, true); // LONG
    view.setUint32(entry + 4, 1, true);
    view.setUint32(entry + 8, tag === 273 ? dataAt : value, true);
  });
  for (let i = dataAt; i < out.length; i++) out[i] = (i * 7) & 0xff;
  return out;
}

const photo = await encodeBitmap(photoLike(200, 150), { type: "jpeg", quality: 90 });
const progressive = await encodeBitmap(photoLike(64, 48), {
  type: "jpeg",
  quality: 80,
  progressive: true,
});

/**
 * One server per backend on the default config, for the side limits, the edges and the headers
 * below, with all their sources.
 */
const servers = new SharedServers((backend) =>
  startBackendServer({
    "photo.jpg": photo,
    "twice.tiff": grayTiff([100000, 10], 10, 40),
    "once.tiff": grayTiff([10], 10, 40),
    "scans100.jpg": withScans(progressive, 100),
    "scans101.jpg": withScans(progressive, 101),
    "scans10000.jpg": withScans(progressive, 10_000),
  }, backend)
);

for (const backend of backends) {
  servers.test(`limits: every format's side limit is a 400 before any pixel work (${backend})`, async () => {
    const server = await servers.get(backend);
    if (!server) return;
    const refusals: [string, string][] = [
      [
        "s,65536x1/jpeg",
        `Format "jpeg" allows at most 65500 pixels per side: the result would be 65536x1`,
      ],
      ["s,1x65536/jpeg", `the result would be 1x65536`],
      ["s,65501x1/jpeg", `Format "jpeg" allows at most 65500`],
      [
        "s,16384x1/webp",
        `Format "webp" allows at most 16383 pixels per side: the result would be 16384x1`,
      ],
      ["s,1x16384/webp", `the result would be 1x16384`],
      [
        "s,70000x1/gif",
        `Format "gif" allows at most 65535 pixels per side: the result would be 70000x1`,
      ],
      ["s,65536x1/gif", `Format "gif" allows at most 65535`],
    ];
    for (const [url, message] of refusals) {
      const { status, body } = await get(server, `${url}/files/photo.jpg`);
      assert.equal(status, 400, url);
      // A library with a lower side limit of its own (Debian's ImageMagick policy, 16KP)
      // refuses first, naming its limit instead.
      const own = /the \w+ backend allows at most \d+ pixels per side/.test(text(body));
      assert.ok(own || text(body).includes(message), `${url}: ${text(body)}`);
    }
    await stillAnswers(server);
  });
}

servers.test("limits: the edges each format can hold are served, with real bytes (pure)", async () => {
  const server = await servers.get("pure");
  if (!server) return;
  const edges: [string, "jpeg" | "webp" | "gif" | "png", number, number][] = [
    ["s,16383x1/webp", "webp", 16383, 1],
    ["s,1x16383/webp", "webp", 1, 16383],
    ["s,65500x1/jpeg", "jpeg", 65500, 1],
    ["s,65535x1/gif", "gif", 65535, 1],
    // auto: too wide for JPEG (and WebP), so PNG, which holds it.
    ["s,65536x1/auto", "png", 65536, 1],
  ];
  for (const [url, type, width, height] of edges) {
    const { status, body, response } = await get(server, `${url}/files/photo.jpg`, "image/jpeg");
    assert.equal(status, 200, `${url}: ${text(body)}`);
    assert.equal(sniffFormat(body), type, url);
    assert.equal(response.headers.get("content-type"), `image/${type}`);
    const info = probeImage(body, type);
    assert.deepEqual([info.width, info.height], [width, height], url);
  }
  // auto for a client that takes WebP: too wide for WebP, so JPEG (the photo is opaque).
  const auto = await get(server, "s,16384x1/auto/files/photo.jpg", "image/webp,*/*");
  assert.equal(auto.status, 200);
  assert.equal(sniffFormat(auto.body), "jpeg");
  await stillAnswers(server);
});

for (const backend of backends) {
  servers.test(`limits: headers a decoder could read otherwise are 422 (${backend})`, async () => {
    const server = await servers.get(backend);
    if (!server) return;
    const twice = await get(server, "s,10x0/png/files/twice.tiff");
    assert.equal(twice.status, 422);
    assert.match(text(twice.body), /the size tag 256 appears twice/);
    for (const name of ["scans101.jpg", "scans10000.jpg"]) {
      const many = await get(server, `s,10x0/png/files/${name}`);
      assert.equal(many.status, 422, name);
      assert.match(text(many.body), /more than 100 scans/);
    }
    if (backend === "pure") {
      // The same files without the excess decode.
      const once = await get(server, "s,10x0/png/files/once.tiff");
      assert.equal(once.status, 200, text(once.body));
      assert.deepEqual(probeImage(once.body, "png").height, 40);
      const scans = await get(server, "s,32x0/png/files/scans100.jpg");
      assert.equal(scans.status, 200, text(scans.body));
      assert.deepEqual(probeImage(scans.body, "png").height, 24);
    }
    await stillAnswers(server);
  });
}

servers.stopAfterTests("limits: (the servers the tests above shared stop)");

Deno.test("limits: a 500-frame GIF is refused before decoding, and memory stays put", async () => {
  // 500 frames of 1000x1000: 5e8 pixels, just inside the largest maxSourcePixels (2^29).
  const bomb = onePixelFramesGif(1000, 1000, 500);
  assert.ok(bomb.length < 40_000);
  const files = { "photo.jpg": photo, "bomb.gif": bomb };
  const image = { maxOutputPixels: 1_000_000, maxSourcePixels: 2 ** 29, maxFrames: 2000 };
  const server = await startBackendServer(files, "pure", { image });
  const defaults = await startBackendServer(files, "pure");
  if (!server || !defaults) return;
  try {
    const before = Deno.memoryUsage().rss;
    for (let i = 0; i < 5; i++) {
      const { status, body } = await get(server, "s,1000x1000/gif/files/bomb.gif");
      assert.equal(status, 400);
      assert.match(text(body), /1000x1000 image in each of 500 frames: at most 1000000 pixels/);
    }
    // With the default image.maxFrames (256) the frame count alone refuses it.
    const frames = await get(defaults, "s,10x10/gif/files/bomb.gif");
    assert.equal(frames.status, 422);
    assert.match(text(frames.body), /The source has 500 frames: at most 256 allowed/);
    // A still result reads one frame.
    const still = await get(server, "s,100x100/png/files/bomb.gif");
    assert.equal(still.status, 200, text(still.body));
    const grown = Deno.memoryUsage().rss - before;
    assert.ok(grown < 200e6, `RSS grew by ${Math.round(grown / 1e6)} MB`);
    await stillAnswers(server);
  } finally {
    await server.close();
    await defaults.close();
  }
});

Deno.test("limits: a 20-frame GIF to gif counts all its frames; a still result one", async () => {
  const gif = onePixelFramesGif(100, 100, 20);
  const files = { "photo.jpg": photo, "anim.gif": gif };
  const server = await startBackendServer(files, "pure", { image: { maxOutputPixels: 100_000 } });
  const source = await startBackendServer(files, "pure", { image: { maxSourcePixels: 150_000 } });
  if (!server || !source) return;
  try {
    // 20 x 100x100 = 200,000 pixels: twice the limit, though each frame is within it.
    const whole = await get(server, "s,100x100/gif/files/anim.gif");
    assert.equal(whole.status, 400);
    assert.match(text(whole.body), /100x100 image in each of 20 frames/);
    // 20 x 70x70 = 98,000 pixels fit.
    const small = await get(server, "s,70x70/gif/files/anim.gif");
    assert.equal(small.status, 200, text(small.body));
    assert.equal((await decodeGifFrames(small.body)).length, 20);
    const still = await get(server, "s,100x100/png/files/anim.gif");
    assert.equal(still.status, 200, text(still.body));
    // The source: 20 x 10,000 = 200,000 decoded pixels over maxSourcePixels for a GIF result,
    // 10,000 for a still one.
    const decoded = await get(source, "s,50x50/gif/files/anim.gif");
    assert.equal(decoded.status, 422);
    assert.match(text(decoded.body), /100x100 pixels in each of 20 frames: at most 150000/);
    assert.equal((await get(source, "s,50x50/jpeg/files/anim.gif")).status, 200);
  } finally {
    await server.close();
    await source.close();
  }
});

Deno.test("limits: fill on a 1x100 source checks its 100x10000 pre-crop size", async () => {
  const narrow = await encodeBitmap(photoLike(1, 100), { type: "png", quality: 80 });
  const files = { "photo.jpg": photo, "narrow.png": narrow };
  const tight = await startBackendServer(files, "pure", { image: { maxOutputPixels: 999_999 } });
  const enough = await startBackendServer(files, "pure", { image: { maxOutputPixels: 1_000_000 } });
  if (!tight || !enough) return;
  try {
    const refused = await get(tight, "s,100x100-/png/files/narrow.png");
    assert.equal(refused.status, 400);
    assert.match(text(refused.body), /would make a 100x10000 image: at most 999999 pixels/);
    const served = await get(enough, "s,100x100-/png/files/narrow.png");
    assert.equal(served.status, 200, text(served.body));
    assert.deepEqual(probeImage(served.body, "png").width, 100);
    const huge = await get(enough, "s,50000x50000-/png/files/narrow.png");
    assert.equal(huge.status, 400);
    await stillAnswers(enough);
  } finally {
    await tight.close();
    await enough.close();
  }
});

Deno.test("limits: a resize that widens one axis and narrows the other counts the image between its passes where it is held", async () => {
  // 200x150 to 1xH: ImageMagick and GraphicsMagick resize down first, holding a 200xH image
  // (s,1x60000 of 600x400 grew ImageMagick by 275 MiB while ~2 MB was planned; at 1x100000
  // the libraries refused it with a 422). pure and libvips stream it: nothing to count.
  for (const backend of [...backends, "vips"]) {
    const server = await startBackendServer({ "photo.jpg": photo }, backend, {
      image: { maxOutputPixels: 1_000_000 },
    });
    if (!server) continue;
    try {
      const served = await get(server, "s,1x5000/png/files/photo.jpg");
      assert.equal(served.status, 200, `${backend}: ${text(served.body)}`);
      assert.deepEqual(probeImage(served.body, "png").height, 5000);
      const holds = backend === "imagemagick" || backend === "graphicsmagick";
      for (const [path, made] of [["s,1x5001", "200x5001"], ["s,6667x1", "6667x150"]]) {
        const answer = await get(server, `${path}/png/files/photo.jpg`);
        assert.equal(answer.status, holds ? 400 : 200, `${backend} ${path}: ${text(answer.body)}`);
        if (holds) assert.match(text(answer.body), new RegExp(`${made} image: at most 1000000`));
      }
    } finally {
      await server.close();
    }
  }
});

/** A flat grey RGB TIFF, Deflate-compressed in strips of `rowsPerStrip` rows. */
function deflateTiff(side: number, rowsPerStrip: number): Uint8Array {
  const strips = Array.from(
    { length: Math.ceil(side / rowsPerStrip) },
    (_, i) =>
      deflateSync(
        new Uint8Array(side * 3 * Math.min(rowsPerStrip, side - i * rowsPerStrip)).fill(128),
      ),
  );
  const count = strips.length;
  // The header, the strips' offsets and byte counts (inline for one strip), then the strips.
  const arraysAt = tiffHeaderBytes(9);
  const dataAt = arraysAt + (count > 1 ? 8 * count : 0);
  const out = new Uint8Array(dataAt + strips.reduce((sum, strip) => sum + strip.length, 0));
  const view = new DataView(out.buffer);
  let at = dataAt;
  strips.forEach((strip, i) => {
    out.set(strip, at);
    if (count > 1) {
      view.setUint32(arraysAt + 4 * i, at, true);
      view.setUint32(arraysAt + 4 * count + 4 * i, strip.length, true);
    }
    at += strip.length;
  });
  writeTiffHeader(out, [
    [256, 4, 1, side],
    [257, 4, 1, side],
    [258, 3, 1, 8],
    [259, 3, 1, 8],
    [262, 3, 1, 2],
    [273, 4, count, count > 1 ? arraysAt : dataAt],
    [277, 3, 1, 3],
    [278, 4, 1, rowsPerStrip],
    [279, 4, count, count > 1 ? arraysAt + 4 * count : strips[0].length],
  ]);
  return out;
}

Deno.test("limits: a TIFF stored as one compressed strip counts the strip ImageMagick holds", async () => {
  // 3000x3000 RGB in one Deflate strip (27 MB decoded): ImageMagick's reader holds about three
  // copies of it besides its 72 MB pixel cache (7000x7000: +795 MiB where 374 were planned).
  const files = { "one.tif": deflateTiff(3000, 3000), "many.tif": deflateTiff(3000, 16) };
  const server = await startBackendServer(files, "imagemagick", {
    image: { maxJobBytes: 150 * 2 ** 20 },
  });
  if (!server) return;
  try {
    const many = await get(server, "s,30x30/png/files/many.tif");
    assert.equal(many.status, 200, text(many.body));
    const one = await get(server, "s,30x30/png/files/one.tif");
    assert.equal(one.status, 422, text(one.body));
    assert.match(text(one.body), /Decoding the 3000x3000 source would need about \d+ MiB/);
  } finally {
    await server.close();
  }
});
