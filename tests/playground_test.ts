// The playground's server side: off by default, its page and files, the registry served as JSON
// for the controls, URLs built and signed for it, and the config rule that keeps signing private.
import assert from "node:assert/strict";
import { parseConfig } from "../lib/config/config.ts";
import { filters } from "../filters/mod.ts";
import {
  decode,
  encode,
  photoLike,
  SharedServers,
  startTestServer,
  type TestServer,
} from "./helpers.ts";

const key = { key: "736563726574", salt: "68656c6c6f" };

/** One server per config (its JSON), shared by the tests that ask for the same. */
const servers = new SharedServers(async (config) =>
  startTestServer({
    "photo.jpg": await encode(photoLike(64, 48), "jpeg"),
    "b.png": await encode(photoLike(8, 8), "png"),
    "notes.txt": new TextEncoder().encode("not an image"),
  }, { filters: [{ name: "small", definition: "s,16x0,gs" }], ...JSON.parse(config) })
);

async function withServer(config: Record<string, unknown>, fn: (s: TestServer) => Promise<void>) {
  await fn((await servers.get(JSON.stringify(config)))!);
}

const origin = (server: TestServer) => server.url.replace("/impressionist", "");

async function get(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

Deno.test("playground: keys without a token is a config error naming both", () => {
  const config = (security: Record<string, unknown>) => ({
    http: { playground: true },
    security,
  });
  assert.throws(
    () => parseConfig(config({ keys: [key] }), "/"),
    (error: Error) =>
      /"http\.playground"/.test(error.message) && /"security\.keys"/.test(error.message) &&
      /"security\.token"/.test(error.message),
  );
  assert.equal(parseConfig(config({ keys: [key], token: "t" }), "/").http.playground, true);
  assert.equal(parseConfig(config({}), "/").http.playground, true);
  assert.equal(parseConfig({}, "/").http.playground, false);
  assert.throws(() => parseConfig({ http: { playground: "yes" } }, "/"), /true or false/);
});

servers.test("playground: off by default, / and its files are 404", () =>
  withServer({}, async (server) => {
    for (const path of ["/", "/playground/playground.js", "/playground/filters.json"]) {
      assert.equal((await get(`${origin(server)}${path}`)).status, 404, path);
    }
  }));

servers.test("playground: / serves the page, its script and style", () =>
  withServer({ http: { playground: true } }, async (server) => {
    const page = await get(`${origin(server)}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.ok(page.headers.get("x-request-id"));
    assert.match(page.text, /<script type="module" src="\/playground\/playground.js">/);
    const script = await get(`${origin(server)}/playground/playground.js`);
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(script.text, /filters\.json/);
    const style = await get(`${origin(server)}/playground/playground.css`);
    assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal((await get(`${origin(server)}/playground/other.js`)).status, 404);
    const head = await fetch(`${origin(server)}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  }));

servers.test("playground: filters.json describes every registered filter, presets, storages, formats", () =>
  withServer({ http: { playground: true } }, async (server) => {
    const info = JSON.parse((await get(`${origin(server)}/playground/filters.json`)).text);
    assert.deepEqual(info.filters.map((f: { name: string }) => f.name), [...filters.keys()]);
    for (const served of info.filters) {
      const filter = filters.get(served.name)!;
      assert.deepEqual(served, { name: filter.name, arity: filter.arity, ...filter.doc });
    }
    assert.deepEqual(info.presets, [{ name: "small", definition: "s,16x0,gs" }]);
    assert.deepEqual(info.storages, ["files"]);
    assert.deepEqual(info.examples, [
      { storage: "files", path: "b.png" },
      { storage: "files", path: "photo.jpg" },
    ]);
    assert.deepEqual(info.formats.map((f: { name: string }) => f.name), [
      "png",
      "jpeg",
      "jpg",
      "webp",
      "gif",
      "avif",
      "jxl",
      "auto",
      "info",
    ]);
    assert.deepEqual(info.formats.find((f: { name: string }) => f.name === "webp"), {
      name: "webp",
      quality: true,
      lossless: true,
      defaultQuality: 75,
    });
    // Each format's own default quality: AVIF's is image.avifQuality; PNG, GIF and info have none.
    const defaults = Object.fromEntries(
      info.formats.map((
        f: { name: string; defaultQuality?: number },
      ) => [f.name, f.defaultQuality]),
    );
    const none = undefined;
    assert.deepEqual(defaults, {
      png: none,
      jpeg: 75,
      jpg: 75,
      webp: 75,
      gif: none,
      avif: 50,
      jxl: 75,
      auto: 75,
      info: none,
    });
    assert.equal(info.root, "/impressionist");
    assert.equal(info.token, false);
    assert.equal(info.signed, false);
  }));

servers.test("playground: wm offers the configured watermarks; auto says AVIF's quality when it may", () =>
  withServer({
    http: { playground: true },
    image: { quality: 80, avifQuality: 40, autoAvif: true },
    watermarks: [
      { name: "logo", storage: "files", path: "b.png" },
      { name: "stamp", storage: "files", path: "b.png" },
    ],
  }, async (server) => {
    const info = JSON.parse((await get(`${origin(server)}/playground/filters.json`)).text);
    const wm = info.filters.find((f: { name: string }) => f.name === "wm");
    assert.deepEqual(wm.fields[0].choices, [
      { value: "logo", label: "logo" },
      { value: "stamp", label: "stamp" },
    ]);
    assert.equal(wm.fields[0].kind, "choice");
    const auto = info.formats.find((f: { name: string }) => f.name === "auto");
    assert.deepEqual([auto.defaultQuality, auto.defaultAvifQuality], [80, 40]);
    const avif = info.formats.find((f: { name: string }) => f.name === "avif");
    assert.deepEqual([avif.defaultQuality, avif.defaultAvifQuality], [40, undefined]);
  }));

servers.test("playground: the source chain shows the whole upright source", () =>
  withServer({ http: { playground: true } }, async (server) => {
    const info = JSON.parse((await get(`${origin(server)}/playground/filters.json`)).text);
    const response = await fetch(`${server.url}/${info.sourceChain}/png/files/photo.jpg`);
    assert.equal(response.status, 200);
    const bitmap = await decode(new Uint8Array(await response.arrayBuffer()));
    assert.deepEqual([bitmap.width, bitmap.height], [64, 48]);
  }));

servers.test("playground: /playground/url builds the URL, or says what is wrong", () =>
  withServer({ http: { playground: true } }, async (server) => {
    const query = (params: Record<string, string>) =>
      `${origin(server)}/playground/url?${new URLSearchParams(params)}`;
    const ok = await get(
      query({ chain: "s,32x0", format: "png", storage: "files", path: "photo.jpg" }),
      { headers: { "x-request-id": "given-id" } },
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("x-request-id"), "given-id");
    assert.deepEqual(JSON.parse(ok.text), { url: "/impressionist/s,32x0/png/files/photo.jpg" });
    const missing = await get(query({ chain: "gs", format: "png", storage: "files" }));
    assert.equal(missing.status, 400);
    assert.match(missing.text, /Missing "path"/);
    const bad = await get(
      query({ chain: "gs", format: "png", storage: "files", path: "../x.jpg" }),
    );
    assert.equal(bad.status, 400);
    assert.match(bad.text, /Bad path segment "\.\."/);
  }));

servers.test("playground: with keys and a token, the JSON and signed URLs need the token", () =>
  withServer(
    { http: { playground: true }, security: { keys: [key], token: "t0ken" } },
    async (server) => {
      const auth = { headers: { authorization: "Bearer t0ken" } };
      assert.equal((await get(`${origin(server)}/`)).status, 200, "the page itself is public");
      assert.equal((await get(`${origin(server)}/playground/filters.json`)).status, 401);
      const info = JSON.parse((await get(`${origin(server)}/playground/filters.json`, auth)).text);
      assert.equal(info.token, true);
      assert.equal(info.signed, true);
      const params = new URLSearchParams({
        chain: "small",
        format: "png",
        storage: "files",
        path: "photo.jpg",
      });
      const query = `${origin(server)}/playground/url?${params}`;
      assert.equal((await get(query)).status, 401);
      const { url } = JSON.parse((await get(query, auth)).text);
      assert.match(url, /^\/impressionist\/[A-Za-z0-9_-]{43}\/small\/png\/files\/photo\.jpg$/);
      const image = await fetch(`${origin(server)}${url}`, auth);
      assert.equal(image.status, 200);
      const bitmap = await decode(new Uint8Array(await image.arrayBuffer()));
      assert.deepEqual([bitmap.width, bitmap.height], [16, 12]);
    },
  ));

servers.stopAfterTests("playground: (the servers the tests above shared stop)");
