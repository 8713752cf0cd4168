// The flow of issue 20: a known result is answered first, without an origin round trip or a
// place in the pool; an origin that fails leaves its last results served stale, within
// `staleIfError`; the storages' freshness keys and the memo's byte budget are checked.
import assert from "node:assert/strict";
import { parseConfig } from "../lib/config/config.ts";
import { createStorages } from "../storages/mod.ts";
import { encode, photoLike, sleep, startTestServer, type TestServer } from "./helpers.ts";

const photo = await encode(photoLike(320, 240), "jpeg");
// Large enough that `b,40/png` keeps the one worker busy for a while on every run.
const slow = await encode(photoLike(2048, 2048), "jpeg");

/** An origin that counts its requests; `mode` switches how it answers from then on. */
interface Origin {
  url: string;
  requests: number;
  /** Bytes of bodies it sent. */
  sent: number;
  mode: "ok" | "refuse-500" | "hang";
  stop(): Promise<void>;
}

function startOrigin(headers: Record<string, string>): Origin {
  const hung: (() => void)[] = [];
  const origin: Origin = {
    url: "",
    requests: 0,
    sent: 0,
    mode: "ok",
    async stop() {
      hung.forEach((end) => end());
      await server.shutdown();
    },
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (request) => {
    origin.requests++;
    if (origin.mode === "refuse-500") return new Response("down", { status: 500 });
    if (origin.mode === "hang") {
      await new Promise<void>((resolve) => hung.push(resolve));
      return new Response("late", { status: 500 });
    }
    const etag = headers["etag"];
    if (etag && request.headers.get("if-none-match") === etag) {
      return new Response(null, { status: 304, headers });
    }
    origin.sent += photo.byteLength;
    return new Response(photo, { headers });
  });
  origin.url = `http://127.0.0.1:${server.addr.port}/`;
  return origin;
}

function withOrigin(origin: Origin, storage: Record<string, unknown> = {}) {
  return {
    storages: [
      { name: "files", type: "local", path: "files" },
      { name: "web", type: "http", baseUrl: origin.url, ...storage },
    ],
  };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body };
}

for (
  const [name, headers] of [
    ["an ETag", { etag: '"v1"' }],
    ["no ETag or Last-Modified", {}],
  ] as const
) {
  Deno.test(`flow: 20 repeats on an http origin with ${name} cost it one request`, async () => {
    const origin = startOrigin(headers);
    const server = await startTestServer({}, withOrigin(origin));
    try {
      const url = `${server.url}/s,100x0/png/web/a.jpg`;
      const first = await get(url);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("x-cache"), "miss");
      for (let i = 0; i < 19; i++) {
        const again = await get(url);
        assert.equal(again.status, 200);
        assert.equal(again.headers.get("x-cache"), "hit");
        assert.deepEqual(again.body, first.body);
      }
      const etag = first.headers.get("etag")!;
      for (let i = 0; i < 5; i++) {
        const conditional = await get(url, { "if-none-match": etag });
        assert.equal(conditional.status, 304);
      }
      assert.equal(origin.requests, 1, "one origin request within revalidate (60s)");
      assert.equal(origin.sent, photo.byteLength, "the source was downloaded once");
    } finally {
      await server.close();
      await origin.stop();
    }
  });
}

Deno.test("flow: past revalidate, an origin without validators is asked again; same bytes keep the result", async () => {
  const origin = startOrigin({});
  const server = await startTestServer({}, withOrigin(origin, { revalidate: "100ms" }));
  try {
    const url = `${server.url}/s,100x0/png/web/a.jpg`;
    const first = await get(url);
    await sleep(150);
    const second = await get(url);
    assert.equal(origin.requests, 2, "fetched again once revalidate passed");
    // Its content hash is its validator: unchanged bytes, same result, no new job.
    assert.equal(second.headers.get("etag"), first.headers.get("etag"));
    assert.equal(second.headers.get("x-cache"), "hit");
  } finally {
    await server.close();
    await origin.stop();
  }
});

async function staleMetric(server: TestServer): Promise<number> {
  const text = await (await fetch(server.url.replace("/impressionist", "/metrics"))).text();
  return Number(/impressionist_stale_results_total\{storage="web"\} (\d+)/.exec(text)?.[1] ?? 0);
}

Deno.test("flow: a stopped, failing or hanging origin leaves the cached result served stale", async () => {
  const origin = startOrigin({ etag: '"v1"' });
  const server = await startTestServer(
    {},
    withOrigin(origin, { revalidate: "50ms", staleIfError: "6s", timeout: "300ms" }),
  );
  try {
    const url = `${server.url}/s,100x0/png/web/a.jpg`;
    const first = await get(url);
    const confirmedAt = Date.now();
    assert.equal(first.status, 200);
    let served = 0;
    const expectStale = async (why: string) => {
      const stale = await get(url);
      assert.equal(stale.status, 200, why);
      assert.equal(stale.headers.get("x-cache"), "stale", why);
      assert.deepEqual(stale.body, first.body, why);
      served++;
    };
    for (const mode of ["refuse-500", "hang"] as const) {
      origin.mode = mode;
      // Past revalidate, and past the second a failing origin is left alone.
      await sleep(1100);
      const asked = origin.requests;
      await expectStale(mode);
      assert.equal(origin.requests, asked + 1, `${mode}: the origin was asked`);
      // While it fails, the next requests are answered stale at once, without asking it.
      for (let i = 0; i < 3; i++) await expectStale(`${mode}, again`);
      assert.equal(origin.requests, asked + 1, `${mode}: the origin was asked once`);
    }
    await origin.stop();
    await sleep(1100);
    await expectStale("origin stopped");
    assert.equal(await staleMetric(server), served);
    // Another URL of the same source was never answered: nothing to serve stale.
    assert.equal((await get(`${server.url}/s,90x0/png/web/a.jpg`)).status, 502);
    // Past staleIfError (6 s after the origin last confirmed the source), the error stands.
    await sleep(Math.max(0, confirmedAt + 6200 - Date.now()));
    assert.equal((await get(url)).status, 502);
  } finally {
    await server.close();
    await origin.stop().catch(() => {});
  }
});

Deno.test("flow: without staleIfError, a failing origin's error stands", async () => {
  const origin = startOrigin({ etag: '"v1"' });
  const server = await startTestServer(
    {},
    withOrigin(origin, { revalidate: "50ms", staleIfError: "0s" }),
  );
  try {
    const url = `${server.url}/s,100x0/png/web/a.jpg`;
    assert.equal((await get(url)).status, 200);
    origin.mode = "refuse-500";
    await sleep(80);
    assert.equal((await get(url)).status, 502);
  } finally {
    await server.close();
    await origin.stop();
  }
});

/** Slow misses holding every place of a pool of one worker and a queue of 2, until released. */
interface FullPool {
  release(): Promise<void>;
}

/** Three different slow misses take the worker and the queue; a fourth is refused. */
async function fillPool(server: TestServer): Promise<FullPool> {
  const aborts = new AbortController();
  const misses = [40, 41, 42].map((sigma) =>
    fetch(`${server.url}/b,${sigma}/png/files/slow.jpg`, { signal: aborts.signal })
      .then((r) => r.body?.cancel()).catch(() => {})
  );
  await sleep(300);
  const refused = await get(`${server.url}/b,43/png/files/slow.jpg`);
  assert.equal(refused.status, 503, "the pool is full");
  return {
    async release() {
      aborts.abort();
      await Promise.all(misses);
    },
  };
}

Deno.test("flow: a cached result is served while the pool (workers 1, queue 2) is full", async () => {
  const server = await startTestServer({ "a.jpg": photo, "slow.jpg": slow }, {
    http: { workers: 1, queue: 2, timeout: "20s" },
  });
  let full: FullPool | undefined;
  try {
    const url = `${server.url}/s,100x0/png/files/a.jpg`;
    assert.equal((await get(url)).status, 200);
    full = await fillPool(server);
    const hit = await get(url);
    assert.equal(hit.status, 200);
    assert.equal(hit.headers.get("x-cache"), "hit");
  } finally {
    await full?.release();
    await server.close();
  }
});

Deno.test("flow: a client that leaves a shared job does not stop it for the others", async () => {
  const server = await startTestServer({ "slow.jpg": slow }, { http: { timeout: "20s" } });
  try {
    const url = `${server.url}/b,8/png/files/slow.jpg`;
    const leaving = new AbortController();
    const gone = fetch(url, { signal: leaving.signal }).catch((error) => error);
    const staying = get(url);
    await sleep(200);
    leaving.abort();
    await gone;
    const answer = await staying;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("x-cache"), "miss");
  } finally {
    await server.close();
  }
});

Deno.test("config: revalidate, staleIfError and caches.memoBytes are checked", async () => {
  const build = (keys: Record<string, unknown>) =>
    createStorages(
      parseConfig({
        storages: [{ name: "web", type: "http", baseUrl: "http://127.0.0.1:1/", ...keys }],
      }, ".").storages,
      ".",
    );
  for (const value of ["0s", "0", "1ms", "60s", "24h", "8760h"]) {
    const freshness = (await build({ revalidate: value, staleIfError: value })).get("web")!
      .freshness!;
    assert.equal(freshness.revalidateMs, freshness.staleIfErrorMs);
  }
  const defaults = (await build({})).get("web")!.freshness!;
  assert.deepEqual(defaults, { revalidateMs: 60_000, staleIfErrorMs: 24 * 3_600_000 });
  for (const value of ["-1s", "", "1", "abc", "8761h", 60, "1e9h"]) {
    await assert.rejects(build({ revalidate: value }), /revalidate/);
    await assert.rejects(build({ staleIfError: value }), /staleIfError/);
  }
  const MiB = 1024 * 1024;
  for (const value of [0, 1, 4 * MiB, 1024 * MiB]) {
    assert.equal(parseConfig({ caches: { memoBytes: value } }, ".").caches.memoBytes, value);
  }
  for (const value of [-1, 1024 * MiB + 1, 2 ** 31, 2 ** 53, 1.5, "4MiB"]) {
    assert.throws(() => parseConfig({ caches: { memoBytes: value } }, "."), /memoBytes/);
  }
  assert.equal(parseConfig({}, ".").caches.memoBytes, 4 * MiB);
});

Deno.test("flow: a replaced watermark on local (revalidate 0s) changes the result at once", async () => {
  const mark = await encode(photoLike(40, 30), "png");
  const server = await startTestServer({ "a.jpg": photo, "mark.png": mark }, {
    watermarks: [{ name: "logo", storage: "files", path: "mark.png" }],
  });
  try {
    const url = `${server.url}/s,100x0,wm,logo/png/files/a.jpg`;
    const before = await get(url);
    assert.equal(before.status, 200);
    assert.equal((await get(url)).headers.get("x-cache"), "hit");
    const file = `${server.dir}/files/mark.png`;
    await Deno.writeFile(file, await encode(photoLike(20, 60), "png"));
    await Deno.utime(file, new Date(), new Date(Date.now() + 5000));
    const after = await get(url);
    assert.equal(after.status, 200);
    assert.equal(after.headers.get("x-cache"), "miss");
    assert.notEqual(after.headers.get("etag"), before.headers.get("etag"));
  } finally {
    await server.close();
  }
});

Deno.test("flow: a restarted instance, or another sharing the store, serves kept results without the origin or a pool place", async () => {
  const origin = startOrigin({ etag: '"v1"' });
  const kept = await Deno.makeTempDir({ prefix: "impressionist-kept-" });
  await Deno.mkdir(`${kept}/store`);
  const instance = (resultDir?: string) =>
    startTestServer({ "slow.jpg": slow }, {
      http: { workers: 1, queue: 2, timeout: "20s" },
      storages: [
        { name: "files", type: "local", path: "files" },
        { name: "web", type: "http", baseUrl: origin.url, revalidate: "4s", staleIfError: "1h" },
        { name: "store", type: "local", path: `${kept}/store` },
      ],
      caches: { shared: "store", ...(resultDir && { resultDir }) },
    });
  const path = "/s,100x0/png/web/a.jpg";
  let server = await instance(`${kept}/results`);
  try {
    const first = await get(server.url + path);
    assert.equal(first.status, 200);
    const confirmedAt = Date.now();
    await server.close();
    origin.mode = "refuse-500";
    const asked = origin.requests;

    // The same instance restarted, its pool full: the result on its disk, at once.
    server = await instance(`${kept}/results`);
    const full = await fillPool(server);
    const restarted = await get(server.url + path);
    assert.equal(restarted.status, 200);
    assert.equal(restarted.headers.get("x-cache"), "hit");
    assert.deepEqual(restarted.body, first.body);
    await full.release();
    await server.close();

    // Another instance with only the shared store.
    server = await instance();
    const other = await get(server.url + path);
    assert.equal(other.status, 200);
    assert.equal(other.headers.get("x-cache"), "shared");
    assert.equal(other.headers.get("etag"), first.headers.get("etag"));
    assert.equal(origin.requests, asked, "the origin was not asked within revalidate");
    // The store's counts in /health are of results: the note read first is not one.
    const health = await (await fetch(server.url.replace("/impressionist", "/health"))).json();
    assert.deepEqual(
      [health.caches.result.shared.hits, health.caches.result.shared.misses],
      [1, 0],
    );

    // Past revalidate the origin is asked; while it fails, the kept result is served stale.
    await sleep(Math.max(0, confirmedAt + 4200 - Date.now()));
    await server.close();
    server = await instance();
    const stale = await get(server.url + path);
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get("x-cache"), "stale");
    assert.deepEqual(stale.body, first.body);
    assert.equal(origin.requests, asked + 1);
  } finally {
    await server.close().catch(() => {});
    await origin.stop();
    await Deno.remove(kept, { recursive: true });
  }
});

Deno.test("flow: browsers wording Accept differently share one place for the same result", async () => {
  const server = await startTestServer({ "slow.jpg": slow }, {
    http: { workers: 1, queue: 0, timeout: "20s" },
  });
  try {
    // Chrome's and Firefox's image Accept: both take WebP (AVIF is off by default).
    const chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    const firefox = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
    for (const format of ["png", "auto"]) {
      const url = `${server.url}/b,20/${format}/files/slow.jpg`;
      const answers = await Promise.all(
        [chrome, firefox, chrome].map((accept) => get(url, { accept })),
      );
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200], format);
      assert.deepEqual(answers[1].body, answers[0].body, format);
    }
  } finally {
    await server.close();
  }
});
