// client.ts: the URLs it builds are the ones the server accepts, its signatures are imgproxy's,
// and it runs outside Deno (checked under Node on a bundle of it).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import {
  blur,
  brightness,
  contrast,
  crop,
  flip,
  grayscale,
  imageUrl,
  none,
  pad,
  resize,
  rotate,
  saturation,
  sharpen,
  sign,
  srcset,
  watermark,
} from "../client.ts";
import { parseConfig } from "../lib/config/config.ts";
import { parseContextOf } from "../lib/flow/deps.ts";
import { filters } from "../filters/mod.ts";
import { parseChain } from "../lib/jobs/url.ts";
import {
  clientBundle,
  decode,
  encode,
  photoLike,
  skipWithout,
  startTestServer,
  type TestServer,
} from "./helpers.ts";

const root = join(import.meta.dirname!, "..");
const imgproxy = {
  key: "736563726574", // "secret", the pair of imgproxy's documented signing example
  salt: "68656c6c6f", // "hello"
  path: "/rs:fill:300:400:0/g:sm/aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/cy9jdXJpb3NpdHku/anBn.png",
  signature: "oKfUtW34Dvo2BGQehJFR4Nr0_rIjOtdtzJ3QFsUcXH8",
};
// The key and salt of imgproxy's example configurations (its docker-compose and library READMEs).
const exampleKey = "943b421c9eb07c830af81030552c86009268de4e532ba2ee2eab8247c6da0881";
const exampleSalt = "520f986b998545b4785e0defbc4f3c1203f22de2374a3d53cb7a7fe9fea309c5";

Deno.test("client: sign() gives imgproxy's published signature", async () => {
  assert.equal(await sign(imgproxy.path, imgproxy.key, imgproxy.salt), imgproxy.signature);
});

Deno.test("client: sign() agrees with an independent HMAC for imgproxy's example key", async () => {
  const expected = createHmac("sha256", Buffer.from(exampleKey, "hex"))
    .update(Buffer.concat([Buffer.from(exampleSalt, "hex"), Buffer.from(imgproxy.path)]))
    .digest("base64url");
  assert.equal(await sign(imgproxy.path, exampleKey, exampleSalt), expected);
  const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));
  assert.equal(await sign(imgproxy.path, bytes(exampleKey), bytes(exampleSalt)), expected);
});

Deno.test("client: sign() refuses a key or salt that is not hex", async () => {
  for (const bad of ["", "abc", "zz", "0x12"]) {
    await assert.rejects(sign("/a", bad, "00"), RangeError, bad);
    await assert.rejects(sign("/a", "00", bad), RangeError, bad);
  }
});

Deno.test("client: the step helpers write tokens the server parses", () => {
  const config = parseConfig({
    storages: [{ name: "files", type: "local", path: "." }],
    watermarks: [{ name: "logo", storage: "files", path: "logo.png" }],
  }, "/");
  const fill = (anchor: unknown) => ({ width: 10, height: 10, mode: "fill", anchor });
  const steps: [string, string, unknown][] = [
    [resize(300, 200, "fill"), "s,300x200-", { width: 300, height: 200, mode: "fill" }],
    [resize(300, 0), "s,300x0", { width: 300, height: 0, mode: "exact" }],
    [resize(0, 1, "fit"), "s,0x1+", { width: 0, height: 1, mode: "fit" }],
    [resize(10, 10, "fill", "ne"), "s,10x10-ne", fill({ gravity: "ne" })],
    [
      resize(10, 10, "fill", { x: 0.25, y: 1 }),
      "s,10x10-f0.25:1",
      fill({ focus: { x: 0.25, y: 1 } }),
    ],
    [
      resize(10, 10, "fill", { x: 1 / 3, y: 0 }),
      "s,10x10-f0.333333:0",
      fill({ focus: { x: 0.333333, y: 0 } }),
    ],
    [resize(10, 10, "fill", "smart"), "s,10x10-smart", fill({ smart: true })],
    [crop(0, 0, 1, 1), "c,0x0-1x1", { x: 0, y: 0, width: 1, height: 1 }],
    [flip("h"), "f,h", undefined],
    [flip("v"), "f,v", undefined],
    [rotate(90), "r,90", undefined],
    [rotate(270), "r,270", undefined],
    [grayscale(), "gs", undefined],
    [blur(0), "b,0", 0],
    [blur(1.5), "b,1.5", 1.5],
    [sharpen(0.3), "sh,0.3", 0.3],
    [sharpen(10), "sh,10", 10],
    [brightness(-100), "br,-100", -100],
    [contrast(100), "ct,100", 100],
    [saturation(0), "sat,0", 0],
    [pad(400, 300), "pad,400x300", undefined],
    [pad(1, 1, "ff000080"), "pad,1x1:ff000080", undefined],
    [watermark("logo"), "wm,logo", undefined],
  ];
  const context = parseContextOf(config);
  for (const [step, token, params] of steps) {
    assert.equal(step, token);
    const [parsed] = parseChain(step, context);
    if (params !== undefined) assert.deepEqual(parsed.params, params, token);
  }
  // A filter the server has and the client lacks a helper for shows up here.
  const names = steps.map(([step]) => parseChain(step, context)[0].name);
  assert.deepEqual(new Set(names), new Set(filters.keys()));
});

Deno.test("client: helpers refuse what the server would refuse", () => {
  for (
    const make of [
      () => resize(0, 0),
      () => resize(-1, 10),
      () => resize(1.5, 10),
      () => resize(10, Number.NaN),
      () => crop(0, 0, 0, 10),
      () => crop(-1, 0, 10, 10),
      () => crop(0, 0, 10, 2 ** 31 + 0.5),
      () => blur(-0.1),
      () => blur(Number.POSITIVE_INFINITY),
      () => resize(10, 10, "fit", "ne"),
      () => resize(10, 10, "fill", { x: -0.1, y: 0 }),
      () => resize(10, 10, "fill", { x: 0, y: 1.000001 }),
      () => resize(10, 10, "fill", { x: Number.NaN, y: 0 }),
      () => sharpen(0.29),
      () => sharpen(10.01),
      () => brightness(101),
      () => contrast(-101),
      () => saturation(0.5),
      () => pad(0, 10),
      () => pad(10, 10, "fff"),
      () => pad(10, 10, "ff00zz"),
      () => watermark("a/b"),
      () => watermark(""),
    ]
  ) assert.throws(make, RangeError);
});

Deno.test("client: imageUrl() encodes segments the way the server decodes them", async () => {
  const url = await imageUrl({
    base: "https://img.example.com/",
    chain: "s,300x200+",
    format: "webp,80",
    storage: "photos",
    path: "2024/a b%c#d?é+.jpg",
  });
  assert.equal(
    url,
    "https://img.example.com/impressionist/s,300x200+/webp,80/photos/2024/a%20b%25c%23d%3F%C3%A9+.jpg",
  );
  assert.equal(
    await imageUrl({ root: "", chain: [grayscale()], format: "png", storage: "s", path: "a.png" }),
    "/gs/png/s/a.png",
  );
  for (const path of ["", "a//b.jpg", "../a.jpg", "a/./b.jpg", "a/"]) {
    await assert.rejects(
      imageUrl({ chain: "gs", format: "png", storage: "s", path }),
      RangeError,
      path,
    );
  }
  for (const chain of [[], "", none]) {
    assert.equal(
      await imageUrl({ chain, format: "webp", storage: "s", path: "a.png" }),
      "/impressionist/none/webp/s/a.png",
      "no filter is written none",
    );
  }
  await assert.rejects(
    imageUrl({ chain: "gs", format: "png", storage: "s", path: "a", key: imgproxy.key }),
    /both a key and a salt/,
  );
});

Deno.test("client: srcset() without filters resizes only", async () => {
  const set = await srcset({
    chain: none,
    format: "auto",
    storage: "p",
    path: "c.jpg",
    widths: [9],
  });
  assert.equal(set, "/impressionist/s,9x0/auto/p/c.jpg 9w");
});

Deno.test("client: srcset() lists one resized candidate per width", async () => {
  const set = await srcset({
    chain: [grayscale()],
    format: "auto",
    storage: "photos",
    path: "cat.jpg",
    widths: [320, 640],
  });
  assert.equal(
    set,
    "/impressionist/gs,s,320x0/auto/photos/cat.jpg 320w, " +
      "/impressionist/gs,s,640x0/auto/photos/cat.jpg 640w",
  );
});

const files = async () => ({
  "photo.jpg": await encode(photoLike(640, 480), "jpeg"),
  "dir/a b%c+é.jpg": await encode(photoLike(64, 48), "jpeg"),
});

async function sizeOf(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  assert.equal(response.status, 200, `${url}: ${await response.clone().text()}`);
  const { width, height } = await decode(new Uint8Array(await response.arrayBuffer()));
  return [width, height];
}

async function withServer(config: Record<string, unknown>, fn: (s: TestServer) => Promise<void>) {
  const server = await startTestServer(await files(), config);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

Deno.test("client: plain URLs are accepted by a running server", () =>
  withServer({}, async (server) => {
    const base = server.url.replace("/impressionist", "");
    const url = (chain: string | string[], path = "photo.jpg") =>
      imageUrl({ base, chain, format: "png", storage: "files", path });
    assert.deepEqual(await sizeOf(await url([resize(320, 0), grayscale()])), [320, 240]);
    assert.deepEqual(await sizeOf(await url([crop(10, 10, 100, 50), rotate(90)])), [50, 100]);
    assert.deepEqual(await sizeOf(await url("s,100x100+")), [100, 75]);
    const newer = [
      resize(100, 100, "fill", "smart"),
      sharpen(1),
      contrast(20),
      pad(120, 110, "ffffff"),
    ];
    assert.deepEqual(await sizeOf(await url(newer)), [120, 110]);
    assert.deepEqual(await sizeOf(await url([resize(32, 0)], "dir/a b%c+é.jpg")), [32, 24]);
    assert.deepEqual(await sizeOf(await url([])), [640, 480], "no filter: the source's size");
    const candidates = await srcset({
      base,
      format: "jpeg",
      storage: "files",
      path: "photo.jpg",
      widths: [64, 128],
    });
    for (const [i, candidate] of candidates.split(", ").entries()) {
      const [src, width] = candidate.split(" ");
      assert.equal(width, `${[64, 128][i]}w`);
      assert.deepEqual(await sizeOf(src), [[64, 128][i], [48, 96][i]]);
    }
  }));

Deno.test("client: sizes the client lets through but the server refuses are 400s, not 5xx", () =>
  withServer({ image: { maxOutputPixels: 1_000_000 } }, async (server) => {
    const base = server.url.replace("/impressionist", "");
    const status = async (chain: string[]) => {
      const url = await imageUrl({
        base,
        chain,
        format: "png",
        storage: "files",
        path: "photo.jpg",
      });
      const response = await fetch(url);
      await response.body?.cancel();
      return response.status;
    };
    assert.equal(await status([resize(1, 0)]), 200);
    assert.equal(await status([resize(100_000, 1)]), 200, "the largest side, within the pixels");
    for (const side of [100_001, 2 ** 16 * 16, 2 ** 31, 2 ** 53]) {
      assert.equal(await status([resize(side, 0)]), 400, `resize ${side}`);
      assert.equal(await status([crop(side, 0, 1, 1)]), 400, `crop at ${side}`);
    }
    assert.equal(await status([resize(1001, 1000)]), 400, "over image.maxOutputPixels");
    assert.equal(await status([blur(50)]), 200);
    assert.equal(await status([blur(50.5)]), 400, "over image.maxBlurSigma");
  }));

Deno.test("client: signed URLs are accepted, and a wrong key is refused", () =>
  withServer({ security: { keys: [{ key: exampleKey, salt: exampleSalt }] } }, async (server) => {
    const base = server.url.replace("/impressionist", "");
    const options = { base, chain: [resize(0, 120)], format: "png", storage: "files" };
    const signed = await imageUrl({
      ...options,
      path: "photo.jpg",
      key: exampleKey,
      salt: exampleSalt,
    });
    assert.deepEqual(await sizeOf(signed), [160, 120]);
    const odd = await imageUrl({
      ...options,
      path: "dir/a b%c+é.jpg",
      key: exampleKey,
      salt: exampleSalt,
    });
    assert.deepEqual(await sizeOf(odd), [160, 120]);
    const forged = await imageUrl({
      ...options,
      path: "photo.jpg",
      key: imgproxy.key,
      salt: imgproxy.salt,
    });
    assert.equal(await fetch(forged).then(async (r) => (await r.body?.cancel(), r.status)), 403);
    const unsigned = await imageUrl({ ...options, path: "photo.jpg" });
    assert.equal(await fetch(unsigned).then(async (r) => (await r.body?.cancel(), r.status)), 403);
  }));

Deno.test("client: imports nothing and names no Deno API", async () => {
  const text = await Deno.readTextFile(join(root, "client.ts"));
  assert.doesNotMatch(text, /^\s*import\s/m);
  assert.doesNotMatch(text, /\bDeno\.|\bprocess\.|\bBuffer\b|require\(/);
});

Deno.test({
  name: "client: runs under Node (a bundle of it, as Node 20 cannot strip types)",
  ignore: await skipWithout("node"),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-client-" });
  try {
    const bundle = join(dir, "client.mjs");
    await Deno.writeTextFile(bundle, await clientBundle());
    const script = `
      import { imageUrl, resize, sign } from ${JSON.stringify(bundle)};
      console.log(await sign(process.argv[1], "${imgproxy.key}", "${imgproxy.salt}"));
      console.log(await imageUrl({ chain: [resize(300, 0)], format: "png", storage: "s",
        path: "a b.png", key: "${exampleKey}", salt: "${exampleSalt}" }));`;
    const run = await new Deno.Command("node", {
      args: ["--input-type=module", "-e", script, imgproxy.path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(run.success, new TextDecoder().decode(run.stderr));
    const expectedUrl = await imageUrl({
      chain: [resize(300, 0)],
      format: "png",
      storage: "s",
      path: "a b.png",
      key: exampleKey,
      salt: exampleSalt,
    });
    assert.deepEqual(new TextDecoder().decode(run.stdout).trim().split("\n"), [
      imgproxy.signature,
      expectedUrl,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
