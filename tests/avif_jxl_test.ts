import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeAvif } from "../lib/image/avif.ts";
import { negotiate, takes } from "../lib/image/formats.ts";
import { probeImage } from "../lib/image/probe.ts";
import { sniffEncoded, sniffFormat } from "../lib/image/sniff.ts";
import { planTransform } from "../lib/jobs/plan.ts";
import { parseConfig } from "../lib/config/config.ts";
import {
  decode,
  encode,
  photoLike,
  requireCommand,
  startBackendServer,
  type TestServer,
} from "./helpers.ts";

const limits = parseConfig({}, ".").image;

function box(type: string, ...parts: (Uint8Array | number[])[]): Uint8Array {
  const payload = parts.flatMap((part) => [...part]);
  const size = payload.length + 8;
  return new Uint8Array([
    size >>> 24,
    (size >> 16) & 255,
    (size >> 8) & 255,
    size & 255,
    ...new TextEncoder().encode(type),
    ...payload,
  ]);
}

const u32 = (n: number) => [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255];
const FULL = [0, 0, 0, 0];

/** The header of a still AVIF claiming `width`x`height`, with `extra` properties on the item. */
function avifHeader(
  width: number,
  height: number,
  extra: Uint8Array[] = [],
  tail: Uint8Array[] = [],
) {
  const properties = [box("ispe", FULL, u32(width), u32(height)), ...extra];
  const ipma = box(
    "ipma",
    FULL,
    u32(1),
    [0, 1, properties.length],
    properties.map((_, i) => i + 1),
  );
  return new Uint8Array([
    ...box("ftyp", new TextEncoder().encode("avif"), u32(0), new TextEncoder().encode("mif1avif")),
    ...box("meta", FULL, box("pitm", FULL, [0, 1]), box("iprp", box("ipco", ...properties), ipma)),
    ...tail.flatMap((part) => [...part]),
  ]);
}

Deno.test("AVIF probe: the primary item's ispe, and refusals before any decode", () => {
  assert.equal(sniffFormat(avifHeader(10, 20)), "avif");
  assert.deepEqual(probeImage(avifHeader(10, 20), "avif"), {
    width: 10,
    height: 20,
    orientation: 1,
  });
  assert.deepEqual(probeImage(avifHeader(65536, 65536), "avif").width, 65536);
  const refusals: [Uint8Array, RegExp][] = [
    [avifHeader(0, 20), /0x20 pixels/],
    [avifHeader(10, 20, [box("irot", [1])]), /"irot" transform/],
    [avifHeader(10, 20, [box("clap", new Array(32).fill(0))]), /"clap" transform/],
    [avifHeader(10, 20, [], [box("moov")]), /animated AVIF/],
    [avifHeader(10, 20).subarray(0, 60), /truncated|overruns/],
    [box("ftyp", new TextEncoder().encode("avif"), u32(0)), /meta box is missing/],
  ];
  for (const [bytes, message] of refusals) {
    assert.throws(() => probeImage(bytes, "avif"), message);
  }
  // A box claiming more than its container holds.
  const lying = avifHeader(10, 20);
  lying[38] = 0xff;
  assert.throws(() => probeImage(lying, "avif"), /overruns|truncated|no/);
});

/** `avif` with every `ispe` property rewritten to `width`x`height`, its AV1 data unchanged. */
function withIspe(avif: Uint8Array, width: number, height: number): Uint8Array {
  const forged = avif.slice();
  const view = new DataView(forged.buffer);
  for (let at = 0; at + 16 <= forged.length; at++) {
    if (String.fromCharCode(...forged.subarray(at, at + 4)) !== "ispe") continue;
    view.setUint32(at + 8, width);
    view.setUint32(at + 12, height);
  }
  return forged;
}

Deno.test("AVIF probe: an AV1 stream coding more than its ispe is refused before any decode", async () => {
  // A real file (colour and alpha items), then the same with a forged, smaller ispe: libavif
  // would decode the stream's 64x48 (12000x12000 in a 1.7 kB file: +1.2 GB) before comparing.
  const real = await encodeAvif(photoLike(64, 48), 60);
  assert.deepEqual(probeImage(real, "avif"), { width: 64, height: 48, orientation: 1 });
  const alpha = photoLike(64, 48);
  alpha.data[3] = 0;
  assert.equal(probeImage(await encodeAvif(alpha, 60), "avif").width, 64);
  assert.throws(
    () => probeImage(withIspe(real, 16, 12), "avif"),
    /AV1 data of item 1 codes up to 64x48 pixels where its ispe says 16x12/,
  );
  assert.throws(() => probeImage(withIspe(real, 64, 47), "avif"), /codes up to 64x48/);
  assert.deepEqual(probeImage(withIspe(real, 65, 48), "avif").width, 65, "a larger ispe is safe");
});

Deno.test("AVIF planning: a source's decode is counted at libavif's and libheif's cost", () => {
  const plan = (backend: string, side: number) =>
    planTransform(
      {
        chain: [{ name: "s", params: { width: 100, height: 0, mode: "exact" } }],
        format: { type: "png", quality: 75 },
        autoOrient: false,
      },
      { width: side, height: side, orientation: 1, format: "avif" },
      limits,
      { name: backend },
    );
  // Measured (bench/codec_costs.ts): 16–19 B a pixel on pure, 31 on the magick backends, 15–16
  // on vips; 7000x7000 made pure grow 1 GB and GraphicsMagick 2.4 GB when 4 or 8 were planned.
  for (
    const [backend, perPixel] of [["pure", 16], ["imagemagick", 31], ["graphicsmagick", 31], [
      "vips",
      15,
    ]] as const
  ) {
    assert.ok(plan(backend, 2048).bytes >= 2048 * 2048 * perPixel, backend);
    assert.ok(plan(backend, 2048).decodeMs > 0, `${backend}: the decode's time is planned`);
    assert.throws(() => plan(backend, 7000), /Decoding the 7000x7000 source would need/, backend);
  }
});

Deno.test("Accept: q=0 refuses a type wherever it stands among its parameters", () => {
  assert.equal(takes("image/webp;level=1;q=0", "webp"), false);
  assert.equal(takes("image/webp; q=0.0 ; level=1", "webp"), false);
  assert.equal(takes("image/webp;q=0.001", "webp"), true);
  assert.equal(takes("text/html, image/webp", "webp"), true);
  assert.equal(takes("image/webpx", "webp"), false);
  const auto = { type: "auto" as const, quality: 75 };
  assert.equal(negotiate(auto, "image/jxl,image/webp", false, true).jxl, true);
  assert.equal(negotiate(auto, "image/jxl;q=0,image/webp", false, true).jxl, false);
  assert.equal(negotiate(auto, "image/jxl", false, false).jxl, false, "image.autoJxl off");
});

Deno.test("JPEG XL: planning allows the encoder's side and pixel limits, not one more", () => {
  const plan = (width: number, height: number) =>
    planTransform(
      { chain: [], format: { type: "jxl", quality: 75 }, autoOrient: false },
      { width, height, orientation: 1 },
      { ...limits, maxSourcePixels: 2 ** 40, maxOutputPixels: 2 ** 40 },
    );
  assert.ok(plan(131328, 1).fitting.has("jxl"));
  assert.throws(() => plan(131329, 1), /"jxl" allows at most 131328 pixels per side/);
  assert.throws(() => plan(1, 131329), /131328 pixels per side/);
  assert.ok(plan(4096, 1024).fitting.has("jxl"));
  assert.throws(() => plan(4097, 1024), /"jxl" allows at most 4194304 pixels: the result/);
  assert.throws(() => plan(2 ** 16, 2 ** 16), /"jxl" allows at most 4194304 pixels/);
  // auto simply leaves JPEG XL out where it cannot hold the result.
  const auto = planTransform(
    { chain: [], format: { type: "auto", quality: 75, jxl: true }, autoOrient: false },
    { width: 4097, height: 1024, orientation: 1 },
    limits,
  );
  assert.equal(auto.fitting.has("jxl"), false);
});

const files = { "photo.png": await encode(photoLike(120, 80), "png") };

function mean(data: Uint8Array): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
  return sum.map((s) => s / (data.length / 4));
}

async function fetchBytes(server: TestServer, path: string, accept?: string) {
  const response = await fetch(`${server.url}${path}`, { headers: accept ? { accept } : {} });
  return { response, body: new Uint8Array(await response.arrayBuffer()) };
}

for (const backend of ["pure", "imagemagick", "graphicsmagick", "vips"]) {
  Deno.test(`AVIF in and JPEG XL out on the ${backend} backend`, async () => {
    const server = await startBackendServer(files, backend, {
      image: { autoJxl: true, autoAvif: true },
    });
    if (!server) return;
    try {
      const original = await decode(
        (await fetchBytes(server, "/s,60x40/png/files/photo.png")).body,
      );
      const made = await fetchBytes(server, "/s,60x40/avif,90/files/photo.png");
      assert.equal(made.response.headers.get("content-type"), "image/avif");
      await Deno.writeFile(join(server.dir, "files", "made.avif"), made.body);
      const read = await fetchBytes(server, "/s,30x20/png/files/made.avif");
      assert.equal(read.response.status, 200, new TextDecoder().decode(read.body));
      const pixels = await decode(read.body);
      assert.deepEqual([pixels.width, pixels.height], [30, 20]);
      const { width, height, data } = await decode(
        (await fetchBytes(server, "/s,60x40/png/files/made.avif")).body,
      );
      assert.deepEqual([width, height], [60, 40]);
      const off = mean(data).map((v, c) => Math.abs(v - mean(original.data)[c]));
      assert.ok(Math.max(...off) < 4, `colours kept through AVIF: ${off}`);
      const info = await (await fetch(`${server.url}/none/info/files/made.avif`)).json();
      assert.deepEqual(info.source, {
        format: "avif",
        width: 60,
        height: 40,
        frames: 1,
        bytes: made.body.length,
        orientation: 1,
      });

      // Hostile AVIFs: a header claiming 2^32 pixels, garbage, a truncated file.
      await Deno.writeFile(join(server.dir, "files", "huge.avif"), avifHeader(65536, 65536));
      await Deno.writeFile(join(server.dir, "files", "bare.avif"), avifHeader(60, 40));
      await Deno.writeFile(
        join(server.dir, "files", "cut.avif"),
        made.body.subarray(0, made.body.length >> 1),
      );
      const started = performance.now();
      const huge = await fetchBytes(server, "/s,10x10/png/files/huge.avif");
      assert.equal(huge.response.status, 422);
      assert.match(new TextDecoder().decode(huge.body), /65536x65536 pixels/);
      assert.ok(performance.now() - started < 2000, "refused from the header");
      for (const name of ["bare.avif", "cut.avif"]) {
        const { response } = await fetchBytes(server, `/s,10x10/png/files/${name}`);
        assert.equal(response.status, 422, name);
      }

      const jxl = await fetchBytes(server, "/s,60x40/jxl,80/files/photo.png");
      assert.equal(jxl.response.headers.get("content-type"), "image/jxl");
      assert.equal(sniffEncoded(jxl.body), "jxl");
      if (await requireCommand("djxl")) {
        const decoded = await decode(jxl.body);
        assert.deepEqual([decoded.width, decoded.height], [60, 40]);
        const drift = mean(decoded.data).map((v, c) => Math.abs(v - mean(original.data)[c]));
        assert.ok(Math.max(...drift) < 4, `colours kept through JPEG XL: ${drift}`);
      }
      const cases: [string, string][] = [
        ["image/jxl,image/avif,image/webp,*/*", "image/jxl"],
        ["image/jxl;q=0,image/avif,image/webp", "image/avif"],
        ["image/webp;level=1;q=0,*/*", "image/jpeg"],
      ];
      for (const [accept, type] of cases) {
        const { response } = await fetchBytes(server, "/s,60x40/auto/files/photo.png", accept);
        assert.equal(response.headers.get("content-type"), type, accept);
      }
    } finally {
      await server.close();
    }
  });
}
