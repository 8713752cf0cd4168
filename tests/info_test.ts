import assert from "node:assert/strict";
import { decode as decodeBlurhash } from "blurhash";
import { thumbHashToRGBA } from "thumbhash";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { parseSigningKey, signPath } from "../lib/jobs/signature.ts";
import type { InfoAnswer } from "../lib/jobs/info.ts";
import {
  decode,
  encode,
  makeBitmap,
  photoLike,
  startBackendServer,
  type TestServer,
} from "./helpers.ts";

const key = { key: "736563726574", salt: "68656c6c6f" };
const signing = parseSigningKey(key.key, key.salt);

/** A JPEG with an EXIF APP1 holding Orientation alone (big-endian IFD0, one SHORT). */
function withOrientation(jpeg: Uint8Array, orientation: number): Uint8Array {
  const tiff = [
    0x4d,
    0x4d,
    0,
    42,
    0,
    0,
    0,
    8,
    0,
    1,
    0x01,
    0x12,
    0,
    3,
    0,
    0,
    0,
    1,
    0,
    orientation,
    0,
    0,
    0,
    0,
    0,
    0,
  ];
  const body = [...new TextEncoder().encode("Exif\0\0"), ...tiff];
  const app1 = [0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255, ...body];
  return new Uint8Array([...jpeg.subarray(0, 2), ...app1, ...jpeg.subarray(2)]);
}

/** 70% warm red on the left, a cool blue on the right: the red must dominate. */
const twoColours = makeBitmap(100, 50, (x) => (x < 70 ? [200, 40, 30, 255] : [20, 60, 210, 255]));

const files: Record<string, Uint8Array> = {
  // Stored 120x80 and turned by EXIF orientation 6: upright it is 80x120.
  "turned.jpg": withOrientation(await encode(photoLike(120, 80), "jpeg"), 6),
  "photo.png": await encode(photoLike(120, 80), "png"),
  "two.png": await encode(twoColours, "png"),
  "clear.png": await encode(
    makeBitmap(64, 32, (x) => (x < 32 ? [200, 0, 0, 255] : [0, 0, 200, 100])),
    "png",
  ),
};

function mean(bitmap: Bitmap): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < bitmap.data.length; i += 4) {
    for (let c = 0; c < 3; c++) sum[c] += bitmap.data[i + c];
  }
  return sum.map((s) => s / (bitmap.width * bitmap.height));
}

function rgbOf(hex: string): number[] {
  return [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
}

function assertNear(actual: number[], expected: number[], tolerance: number, what: string) {
  const off = Math.max(...actual.map((v, c) => Math.abs(v - expected[c])));
  assert.ok(off <= tolerance, `${what}: ${actual.map(Math.round)} vs ${expected.map(Math.round)}`);
}

async function get(server: TestServer, path: string, init?: RequestInit) {
  const signature = await signPath(signing, path);
  return await fetch(`${server.url}/${signature}${path}`, init);
}

async function info(server: TestServer, path: string): Promise<InfoAnswer> {
  const response = await get(server, path);
  assert.equal(response.status, 200, path);
  assert.equal(response.headers.get("content-type"), "application/json");
  return await response.json();
}

for (const backend of ["pure", "imagemagick", "graphicsmagick", "vips"]) {
  Deno.test(`info: sizes, source, colours and placeholders on the ${backend} backend`, async () => {
    const server = await startBackendServer(files, backend, {
      security: { keys: [key] },
      http: { cors: "*" },
    });
    if (!server) return;
    try {
      const none = await info(server, "/none/info/files/turned.jpg");
      assert.deepEqual([none.width, none.height], [80, 120], "upright size of the source");
      assert.deepEqual(none.source, {
        format: "jpeg",
        width: 120,
        height: 80,
        frames: 1,
        bytes: files["turned.jpg"].length,
        orientation: 6,
      });
      assert.equal(none.alpha, false);
      // none/info samples a smaller decode (a JPEG shrinks on load): the same colours still.
      const whole = await decode(
        new Uint8Array(await (await get(server, "/none/png/files/turned.jpg")).arrayBuffer()),
      );
      assert.deepEqual([whole.width, whole.height], [80, 120]);
      assertNear(rgbOf(none.average), mean(whole), 3, "average of none");
      const resized = await info(server, "/s,60x0/info/files/photo.png");
      assert.deepEqual([resized.width, resized.height], [60, 40]);
      assert.equal(resized.source.format, "png");
      assert.deepEqual(Object.keys(resized), [
        "width",
        "height",
        "source",
        "alpha",
        "average",
        "dominant",
        "thumbhash",
        "blurhash",
      ]);

      // The colours and both placeholders against the result of the same chain.
      const result = await decode(
        new Uint8Array(await (await get(server, "/s,60x0/png/files/photo.png")).arrayBuffer()),
      );
      const expected = mean(result);
      assertNear(rgbOf(resized.average), expected, 3, "average");
      const hash = Uint8Array.from(atob(resized.thumbhash), (c) => c.charCodeAt(0));
      const thumb = thumbHashToRGBA(hash);
      assertNear(
        mean({ width: thumb.w, height: thumb.h, data: thumb.rgba }),
        expected,
        12,
        "thumbhash",
      );
      const blur = decodeBlurhash(resized.blurhash, 32, 32);
      assertNear(
        mean({ width: 32, height: 32, data: new Uint8Array(blur.buffer) }),
        expected,
        12,
        "blurhash",
      );
      assert.equal(resized.blurhash.length, 4 + 2 * 4 * 3, "4x3 components");

      const two = await info(server, "/none/info/files/two.png");
      assertNear(rgbOf(two.dominant), [200, 40, 30], 6, "dominant");
      const clear = await info(server, "/none/info/files/clear.png");
      assert.equal(clear.alpha, true);

      // Signed like an image: unsigned is refused; a repeat with the ETag is a 304.
      const unsigned = await fetch(`${server.url}/_/none/info/files/photo.png`);
      await unsigned.body?.cancel();
      assert.equal(unsigned.status, 403);
      const first = await get(server, "/none/info/files/photo.png", {
        headers: { origin: "https://a.example" },
      });
      await first.body?.cancel();
      const etag = first.headers.get("etag")!;
      assert.ok(etag);
      assert.equal(first.headers.get("access-control-allow-origin"), "*");
      const again = await get(server, "/none/info/files/photo.png", {
        headers: { "if-none-match": etag },
      });
      await again.body?.cancel();
      assert.equal(again.status, 304);
      // Its own identity: the image of the same chain has another ETag, and a repeat is a hit.
      const image = await get(server, "/none/png/files/photo.png");
      await image.body?.cancel();
      assert.notEqual(image.headers.get("etag"), etag);
      const hit = await get(server, "/none/info/files/photo.png");
      assert.equal(hit.headers.get("x-cache"), "hit");
      assert.equal(hit.headers.get("content-type"), "application/json");
      await hit.body?.cancel();
    } finally {
      await server.close();
    }
  });
}

Deno.test("info and jxl in the format segment: qualities and their boundaries", async () => {
  const { parseFormat } = await import("../lib/jobs/url.ts");
  assert.deepEqual(parseFormat("info", 75), { type: "info", quality: 75 });
  assert.throws(() => parseFormat("info,80", 75), /Format "info" takes no quality/);
  assert.deepEqual(parseFormat("jxl", 75), { type: "jxl", quality: 75 });
  for (const q of ["1", "100"]) assert.equal(parseFormat(`jxl,${q}`, 75).quality, Number(q));
  for (const q of ["0", "101", "65536", "2147483648", "-1", "1e2", ""]) {
    assert.throws(() => parseFormat(`jxl,${q}`, 75), /expected jxl,Q with Q from 1 to 100/, q);
  }
});

Deno.test("image.blurhashComponents: XxY with 1..9 each, 4x3 by default", async () => {
  const { parseConfig } = await import("../lib/config/config.ts");
  const components = (value?: string) =>
    parseConfig({ image: value === undefined ? {} : { blurhashComponents: value } }, ".").image
      .blurhashComponents;
  assert.deepEqual(components(), { x: 4, y: 3 });
  assert.deepEqual(components("1x1"), { x: 1, y: 1 });
  assert.deepEqual(components("9x9"), { x: 9, y: 9 });
  for (const bad of ["0x3", "10x3", "4x0", "4x", "4x3x2", "65536x1", " 4x3"]) {
    assert.throws(() => components(bad), /image\.blurhashComponents.*1 to 9/, bad);
  }
});

Deno.test("info: a result from the result directory is still JSON, under its own identity", async () => {
  const results = await Deno.makeTempDir({ prefix: "impressionist-info-results-" });
  const config = { caches: { resultDir: results, result: 0 } };
  const path = "/none/info/files/photo.png";
  try {
    // The same file on both servers: its validator (size and time) is part of the identity.
    const sameTime = (server: TestServer) => {
      const time = new Date(Date.UTC(2026, 0, 1));
      return Deno.utime(`${server.dir}/files/photo.png`, time, time);
    };
    const first = await startBackendServer(files, "pure", config);
    let body: string, etag: string | null;
    try {
      await sameTime(first!);
      const response = await fetch(`${first!.url}${path}`);
      body = await response.text();
      etag = response.headers.get("etag");
    } finally {
      await first!.close();
    }
    const second = await startBackendServer(files, "pure", config);
    try {
      await sameTime(second!);
      const response = await fetch(`${second!.url}${path}`);
      assert.equal(response.headers.get("x-cache"), "hit");
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.equal(response.headers.get("etag"), etag);
      assert.equal(await response.text(), body);
    } finally {
      await second!.close();
    }
  } finally {
    await Deno.remove(results, { recursive: true });
  }
});
