import assert from "node:assert/strict";
import {
  decode,
  encode,
  makeBitmap,
  photoLike,
  SharedServers,
  startTestServer,
  type TestServer,
} from "./helpers.ts";

const logo = makeBitmap(
  80,
  60,
  (x, y) => (x < 40 ? [200, 30, 30, 255] : [30, 30, 200, y % 2 ? 0 : 255]),
);

/**
 * One server for the tests that use `withServer`: a photo, a PNG with alpha, and files that are
 * not images.
 */
const servers = new SharedServers(async () => {
  const photo = await encode(photoLike(640, 480), "jpeg");
  return startTestServer({
    "photo.jpg": photo,
    "logo.png": await encode(logo, "png"),
    "dir/nested.png": await encode(logo, "png"),
    "notes.txt": new TextEncoder().encode("not an image"),
    "truncated.jpg": photo.slice(0, 2000),
  }, { filters: [{ name: "small", definition: "s,100x0" }] });
});

async function withServer(fn: (server: TestServer) => Promise<void>) {
  await fn((await servers.get("server"))!);
}

async function get(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  const body = new Uint8Array(await response.arrayBuffer());
  return { response, body, text: new TextDecoder().decode(body) };
}

servers.test("server: resize, presets, formats and headers end to end", () =>
  withServer(async ({ url }) => {
    const cases: [string, string, number, number][] = [
      ["s,320x0/jpeg", "image/jpeg", 320, 240],
      ["s,0x120/png", "image/png", 160, 120],
      ["s,100x100-/jpg,90", "image/jpeg", 100, 100],
      ["s,100x100+/png", "image/png", 100, 75],
      ["small,gs/jpeg,50", "image/jpeg", 100, 75],
      ["c,600x400-100x100,r,90/png", "image/png", 80, 40],
      ["f,h,f,v,b,1.5/png", "image/png", 640, 480],
    ];
    for (const [request, type, width, height] of cases) {
      const { response, body } = await get(`${url}/${request}/files/photo.jpg`);
      assert.equal(response.status, 200, request);
      assert.equal(response.headers.get("content-type"), type, request);
      assert.equal(response.headers.get("content-length"), String(body.byteLength), request);
      const image = await decode(body);
      assert.deepEqual([image.width, image.height], [width, height], request);
    }
  }));

servers.test("server: PNG output keeps alpha; a nested path is served", () =>
  withServer(async ({ url }) => {
    const { response, body } = await get(`${url}/s,40x30/png/files/dir/nested.png`);
    assert.equal(response.status, 200);
    const image = await decode(body);
    const alphas = new Set<number>();
    for (let i = 3; i < image.data.length; i += 4) alphas.add(image.data[i]);
    assert.ok(alphas.has(255) && [...alphas].some((a) => a < 255), "alpha survives");
  }));

servers.test("server: HEAD answers the headers without a body", () =>
  withServer(async ({ url }) => {
    const head = await get(`${url}/s,50x0/png/files/logo.png`, { method: "HEAD" });
    const full = await get(`${url}/s,50x0/png/files/logo.png`);
    assert.equal(head.response.status, 200);
    assert.equal(head.body.byteLength, 0);
    assert.equal(head.response.headers.get("content-length"), String(full.body.byteLength));
  }));

servers.test("server: bad requests get the right status and a short plain-text reason", () =>
  withServer(async ({ url }) => {
    const cases: [string, number, RegExp][] = [
      ["/zz,1/png/files/logo.png", 400, /Unknown filter "zz"/],
      ["/s,/png/files/logo.png", 400, /stray comma|Missing argument/],
      ["/s/png/files/logo.png", 400, /Missing argument/],
      ["/b,NaN/png/files/logo.png", 400, /blur "NaN"/],
      ["/s,0x0/png/files/logo.png", 400, /resize "0x0"/],
      ["/c,500x500-10x10/png/files/logo.png", 400, /outside the 80x60 image/],
      ["/gs/bmp/files/logo.png", 400, /Unknown format "bmp"/],
      ["/gs/jpeg,0/files/logo.png", 400, /quality/],
      ["/gs/png/files/a%2F..%2Fx.png", 400, /Bad path segment/],
      ["/gs/png/files/a%5Cb.png", 400, /Bad path segment/],
      ["/gs/png/nostore/logo.png", 404, /Unknown storage "nostore"/],
      ["/gs/png/files/missing.png", 404, /No file/],
      ["/gs/png/files/dir", 404, /No file/],
      ["/gs/png/files/notes.txt", 422, /not a JPEG, PNG/],
      ["/gs/png/files/truncated.jpg", 422, /Cannot decode/],
    ];
    for (const [path, status, reason] of cases) {
      const { response, text } = await get(`${url}${path}`);
      assert.equal(response.status, status, path);
      assert.match(response.headers.get("content-type")!, /^text\/plain/, path);
      assert.match(text, reason, path);
      assert.doesNotMatch(text, /at .*\.ts:\d+/, "no stack trace");
    }
    // Still serving after all of that.
    assert.equal((await get(`${url}/gs/png/files/logo.png`)).response.status, 200);
  }));

servers.test("server: other methods get 405 with Allow; other paths 404", () =>
  withServer(async ({ url }) => {
    const post = await get(`${url}/gs/png/files/logo.png`, { method: "POST", body: "x" });
    assert.equal(post.response.status, 405);
    assert.equal(post.response.headers.get("allow"), "GET, HEAD");
    const outside = await get(url.replace("/impressionist", "/elsewhere/gs/png/files/logo.png"));
    assert.equal(outside.response.status, 404);
  }));

servers.test("server: a symlink out of the storage root is not followed", () =>
  withServer(async ({ url, dir }) => {
    await Deno.writeTextFile(`${dir}/secret.png`, "secret");
    await Deno.symlink(`${dir}/secret.png`, `${dir}/files/link.png`);
    const { response } = await get(`${url}/gs/png/files/link.png`);
    assert.equal(response.status, 404);
  }));

servers.stopAfterTests("server: (the server the tests above shared stops)");

Deno.test("server: every kind of answer carries X-Content-Type-Options: nosniff and a Content-Type", async () => {
  const server = await startTestServer(
    { "logo.png": await encode(logo, "png") },
    { http: { playground: true, metricsPort: 0, cors: "*" } },
  );
  const base = server.url.replace("/impressionist", "");
  try {
    const image = `${server.url}/s,40x0/png/files/logo.png`;
    const etag = (await get(image)).response.headers.get("etag")!;
    const cases: [string, string, RequestInit?][] = [
      ["image (miss)", `${server.url}/s,20x0/png/files/logo.png`],
      ["image (hit)", image],
      ["image (auto)", `${server.url}/s,40x0/auto/files/logo.png`, {
        headers: { accept: "image/webp" },
      }],
      ["HEAD", image, { method: "HEAD" }],
      ["304", image, { headers: { "if-none-match": etag } }],
      ["400", `${server.url}/s,0x0/png/files/logo.png`],
      ["404", `${base}/nothing`],
      ["405", image, { method: "POST" }],
      ["422", `${server.url}/s,40x0/png/files/missing.png`],
      ["health", `${base}/health`],
      ["metrics", `${base}/metrics`],
      ["playground", `${base}/`],
      ["preflight", image, {
        method: "OPTIONS",
        headers: { origin: "https://a.example", "access-control-request-method": "GET" },
      }],
    ];
    for (const [what, url, init] of cases) {
      const { response } = await get(url, init);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff", what);
      const type = response.headers.get("content-type");
      if (response.status !== 304 && response.status !== 204) {
        assert.ok(
          type && type !== "undefined" && /^[a-z]+\/[\w.+-]+/.test(type),
          `${what}: ${type}`,
        );
      }
    }
  } finally {
    await server.close();
  }
});
