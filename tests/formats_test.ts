import assert from "node:assert/strict";
import { probeImage } from "../lib/image/probe.ts";
import { encodeAvif } from "../lib/image/avif.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { decodeGifFrames, encodeGif, gifLoopCount } from "../lib/pure/gif.ts";
import { sniffFormat } from "../lib/image/sniff.ts";
import { jpegFrame } from "./jpeg_markers.ts";
import {
  decode,
  encode,
  makeBitmap,
  photoLike,
  SharedServers,
  startBackendServer,
  startTestServer,
  type TestServer,
} from "./helpers.ts";

const files = {
  "photo.jpg": await encode(photoLike(120, 80), "jpeg"),
  "opaque.png": await encode(photoLike(120, 80), "png"),
  // Hard-edged shapes on transparency, as logos are: a Lanczos resize rings at their edges.
  "shapes.png": await encode(
    makeBitmap(
      200,
      100,
      (x, y) =>
        Math.hypot(x - 140, y - 50) < 35
          ? [200, 30, 30, 255]
          : x >= 20 && x < 90 && y >= 30 && y < 70
          ? [10, 10, 10, 255]
          : [0, 0, 0, 0],
    ),
    "png",
  ),
  "clear.png": await encode(
    makeBitmap(120, 80, (x) => (x < 60 ? [200, 0, 0, 255] : [0, 0, 200, 0])),
    "png",
  ),
};

/**
 * One server per backend for the tests that need no config of their own, with their sources (the
 * GIFs are made further down, before any test runs).
 */
const servers = new SharedServers((backend) =>
  startBackendServer({ ...files, "anim.gif": animation, "delays.gif": extremeDelays }, backend)
);

async function get(server: TestServer, path: string, accept?: string) {
  const response = await fetch(`${server.url}${path}`, {
    headers: accept ? { accept } : {},
  });
  return { response, body: new Uint8Array(await response.arrayBuffer()) };
}

for (const backend of ["pure", "imagemagick", "graphicsmagick", "vips"]) {
  servers.test(`formats: webp, auto and Vary on the ${backend} backend`, async () => {
    const server = await servers.get(backend);
    if (!server) return;
    for (const format of ["webp", "webp,30", "webp,lossless"]) {
      const { response, body } = await get(server, `/s,60x0/${format}/files/photo.jpg`);
      assert.equal(response.status, 200, format);
      assert.equal(response.headers.get("content-type"), "image/webp", format);
      assert.equal(sniffFormat(body), "webp");
      const { width, height } = probeImage(body, "webp");
      assert.deepEqual([width, height], [60, 40], format);
    }
    const lossless = (await get(server, "/s,60x0/webp,lossless/files/photo.jpg")).body;
    assert.equal(new TextDecoder().decode(lossless.subarray(12, 16)), "VP8L");
    // Lossy at every quality: ImageMagick wrote webp,100 lossless, 3-15 levels off the others.
    const best = (await get(server, "/s,60x0/webp,100/files/photo.jpg")).body;
    assert.equal(new TextDecoder().decode(best.subarray(12, 16)), "VP8 ");

    const cases: [string, string, string][] = [
      ["photo.jpg", "image/webp,*/*", "image/webp"],
      ["clear.png", "image/avif,image/webp;q=0.9,*/*", "image/webp"],
      ["photo.jpg", "*/*", "image/jpeg"],
      ["opaque.png", "text/html,*/*;q=0.8", "image/jpeg"],
      ["clear.png", "*/*", "image/png"],
      ["clear.png", "image/webp;q=0", "image/png"],
    ];
    for (const [file, accept, type] of cases) {
      const { response } = await get(server, `/s,60x0/auto/files/${file}`, accept);
      assert.equal(response.headers.get("content-type"), type, `${file} with ${accept}`);
      assert.equal(response.headers.get("vary"), "Accept");
    }
    // Each negotiated answer is its own cache entry, with its own ETag.
    const webp = await get(server, "/s,60x0/auto/files/photo.jpg", "image/webp");
    const jpeg = await get(server, "/s,60x0/auto/files/photo.jpg", "*/*");
    assert.notEqual(webp.response.headers.get("etag"), jpeg.response.headers.get("etag"));
    assert.equal(sniffFormat(jpeg.body), "jpeg");
    const plain = await get(server, "/s,60x0/png/files/photo.jpg");
    assert.equal(plain.response.headers.get("vary"), null);
  });
}

const animation = encodeGif(
  [0, 1, 2].map((i) => ({
    bitmap: makeBitmap(
      80,
      60,
      (x) => (x < 20 * (i + 1) ? [200, 40 * i, 0, 255] : [0, 0, 200, 255]),
    ),
    delayMs: 100 * (i + 1),
  })),
  3,
);

for (const backend of ["pure", "imagemagick", "graphicsmagick", "vips"]) {
  servers.test(`formats: an animated GIF stays animated with its delays and loop count (${backend})`, async () => {
    const server = await servers.get(backend);
    if (!server) return;
    const { response, body } = await get(server, "/s,40x0,f,h/gif/files/anim.gif");
    assert.equal(response.headers.get("content-type"), "image/gif");
    const out = await decodeGifFrames(body);
    assert.equal(out.length, 3);
    assert.deepEqual(out.map((f) => f.delayMs), [100, 200, 300]);
    assert.deepEqual([out[0].bitmap.width, out[0].bitmap.height], [40, 30]);
    assert.equal(gifLoopCount(body), 3);
    // auto keeps an animation a GIF, even for a client that takes WebP.
    const auto = await get(server, "/s,40x0/auto/files/anim.gif", "image/webp,*/*");
    assert.equal(auto.response.headers.get("content-type"), "image/gif");
    // Other formats take the first frame.
    const still = await get(server, "/s,40x0/png/files/anim.gif");
    assert.deepEqual(probeImage(still.body, "png").width, 40);
    // A still source becomes a one-frame GIF.
    await Deno.writeFile(`${server.dir}/files/still.png`, await encode(photoLike(50, 40), "png"));
    const one = await get(server, "/s,25x0/gif/files/still.png");
    assert.equal((await decodeGifFrames(one.body)).length, 1);
  });
}

// A GIF frame's delay is 16 bits of centiseconds: 0 to 655.35 s.
const extremeDelays = encodeGif(
  [0, 10, 655_350].map((delayMs, i) => ({
    bitmap: makeBitmap(40, 30, () => [80 * i, 0, 200, 255]),
    delayMs,
  })),
  0,
);

for (const backend of ["pure", "imagemagick", "graphicsmagick", "vips"]) {
  servers.test(`formats: GIF delays at their bounds keep a GIF animated (${backend})`, async () => {
    const server = await servers.get(backend);
    if (!server) return;
    const { response, body } = await get(server, "/s,20x0/gif/files/delays.gif");
    assert.equal(response.status, 200, new TextDecoder().decode(body));
    const delays = (await decodeGifFrames(body)).map((frame) => frame.delayMs);
    // sharp takes at most 65535 ms a frame: vips writes longer delays as that (6554 cs).
    assert.deepEqual(delays, [0, 10, backend === "vips" ? 65_540 : 655_350]);
  });
}

Deno.test("formats: WebP sources decode on the pure backend, lossy and lossless", async () => {
  const red = makeBitmap(64, 48, () => [220, 30, 30, 255]);
  const server = await startTestServer({
    "lossy.webp": await encodeBitmap(red, { type: "webp", quality: 90 }),
    "lossless.webp": await encodeBitmap(red, { type: "webp", quality: 75, lossless: true }),
  });
  try {
    for (const name of ["lossy.webp", "lossless.webp"]) {
      const { response, body } = await get(server, `/s,32x0/png/files/${name}`);
      assert.equal(response.status, 200, name);
      const image = await decode(body);
      assert.deepEqual([image.width, image.height], [32, 24]);
      const [r, g, b] = image.data;
      assert.ok(Math.abs(r - 220) < 8 && g < 40 && b < 40, `${name}: ${r},${g},${b}`);
    }
  } finally {
    await server.close();
  }
});

for (const backend of ["imagemagick", "graphicsmagick", "vips"]) {
  Deno.test(`formats: image.progressive writes progressive JPEGs (${backend})`, async () => {
    const server = await startBackendServer(files, backend, { image: { progressive: true } });
    if (!server) return;
    try {
      const { body } = await get(server, "/s,60x0/jpeg/files/photo.jpg");
      const hasMarker = (second: number) =>
        body.some((byte, i) => byte === 0xff && body[i + 1] === second);
      assert.ok(hasMarker(0xc2), "a progressive frame header (SOF2)");
      assert.ok(!hasMarker(0xc0), "no baseline frame header (SOF0)");
    } finally {
      await server.close();
    }
  });
}

for (const backend of ["pure", "imagemagick", "graphicsmagick", "vips"]) {
  Deno.test(`formats: avif, and auto choosing AVIF > WebP > PNG/JPEG (${backend})`, async () => {
    const server = await startBackendServer(files, backend, { image: { autoAvif: true } });
    if (!server) return;
    try {
      for (const format of ["avif", "avif,1", "avif,100"]) {
        const { response, body } = await get(server, `/s,60x0/${format}/files/photo.jpg`);
        assert.equal(response.status, 200, format);
        assert.equal(response.headers.get("content-type"), "image/avif", format);
        const bitmap = await decode(body);
        assert.deepEqual([bitmap.width, bitmap.height], [60, 40], format);
      }
      // Quality matters: the default (50) lies between 1 and 100.
      const size = async (format: string) =>
        (await get(server, `/s,120x0/${format}/files/photo.jpg`)).body.byteLength;
      const [low, normal, high] = [
        await size("avif,1"),
        await size("avif"),
        await size("avif,100"),
      ];
      assert.ok(low < normal && normal < high, `${low} < ${normal} < ${high}`);
      // Alpha survives.
      const clear = await decode((await get(server, "/s,60x0/avif/files/clear.png")).body);
      assert.ok(clear.data[3] > 250 && clear.data[(40 * 60 - 1) * 4 + 3] < 5, "alpha kept");

      const cases: [string, string, string][] = [
        ["photo.jpg", "image/avif,image/webp,*/*", "image/avif"],
        ["clear.png", "image/webp,image/avif;q=0.5", "image/avif"],
        ["photo.jpg", "image/avif;q=0,image/webp", "image/webp"],
        ["photo.jpg", "image/webp,*/*", "image/webp"],
        ["photo.jpg", "*/*", "image/jpeg"],
        ["clear.png", "*/*", "image/png"],
      ];
      for (const [file, accept, type] of cases) {
        const { response, body } = await get(server, `/s,60x0/auto/files/${file}`, accept);
        assert.equal(response.headers.get("content-type"), type, `${file} with ${accept}`);
        assert.equal(response.headers.get("vary"), "Accept");
        const bitmap = await decode(body);
        assert.deepEqual([bitmap.width, bitmap.height], [60, 40], `${file} with ${accept}`);
      }
      const wide = await get(server, "/s,1x1,pad,32769x1/avif/files/photo.jpg");
      assert.equal(wide.response.status, 400);
      // A library with a lower side limit of its own (Debian's ImageMagick policy) names that.
      assert.match(
        new TextDecoder().decode(wide.body),
        /"avif" allows at most 32768 pixels|backend allows at most \d+ pixels per side/,
      );
      for (const bad of ["avif,0", "avif,101", "avif,lossless", "avif,50,1"]) {
        const { response, body } = await get(server, `/s,60x0/${bad}/files/photo.jpg`);
        assert.equal(response.status, 400, bad);
        assert.match(new TextDecoder().decode(body), /avif/, bad);
      }
    } finally {
      await server.close();
    }
  });

  Deno.test(`formats: JPEG flattens onto image.background, 4:4:4 from q90 (${backend})`, async () => {
    const server = await startBackendServer(files, backend, { image: { background: "3366CC" } });
    if (!server) return;
    try {
      const jpeg = await decode((await get(server, "/s,60x0/jpeg,95/files/clear.png")).body);
      const [r, g, b] = jpeg.data.subarray((20 * 60 + 55) * 4);
      assert.ok(
        Math.abs(r - 0x33) < 6 && Math.abs(g - 0x66) < 6 && Math.abs(b - 0xcc) < 6,
        `${r},${g},${b}`,
      );
      // A resize then flattened, as the PNG shows on that background: vips flattened before
      // the resize in one pipeline, whose ringing put the shapes' edges up to 26 levels off.
      const shown = await decode((await get(server, "/s,67x0/png/files/shapes.png")).body);
      const flat = await decode((await get(server, "/s,67x0/jpeg,100/files/shapes.png")).body);
      let worst = 0;
      for (let i = 0; i < shown.data.length; i += 4) {
        const alpha = shown.data[i + 3] / 255;
        for (const [c, back] of [[0, 0x33], [1, 0x66], [2, 0xcc]]) {
          const expected = shown.data[i + c] * alpha + back * (1 - alpha);
          worst = Math.max(worst, Math.abs(flat.data[i + c] - expected));
        }
      }
      assert.ok(worst <= 8, `a JPEG pixel ${worst.toFixed(0)} levels off the flattened PNG`);
      // Chroma at full resolution from quality 90 up, as pure's encoder writes it: the magick
      // backends and vips wrote 4:2:0 at every quality, 4-15 levels off pure's at q100.
      for (const [quality, luma] of [[1, "2x2"], [89, "2x2"], [90, "1x1"], [100, "1x1"]]) {
        const { body } = await get(server, `/s,60x0/jpeg,${quality}/files/photo.jpg`);
        assert.deepEqual(jpegFrame(body).sampling, [luma, "1x1", "1x1"], `q${quality}`);
      }
    } finally {
      await server.close();
    }
  });
}

Deno.test("formats: AVIF writes a side of 32768, the most its decoders read", async () => {
  const tall = await encodeAvif({ width: 1, height: 32768, data: new Uint8Array(32768 * 4) }, 50);
  assert.equal((await decode(tall)).height, 32768);
});
servers.stopAfterTests("formats: (the servers the tests above shared stop)");
