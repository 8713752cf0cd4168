import assert from "node:assert/strict";
import { join } from "node:path";
import { type App, startApp } from "../lib/app.ts";
import { SEAL_BYTES, Sealer } from "../lib/cache/sealed.ts";
import { ConfigError, parseConfig } from "../lib/config/config.ts";
import { ConfigReader } from "../lib/config/reader.ts";
import { Forbidden } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import { createLocalStorage } from "../storages/local.ts";
import { createS3Storage } from "../storages/s3.ts";
import type { Source } from "../storages/storage.ts";
import { rss, startChildServer } from "./child_server.ts";
import { encode, photoLike, quietLog } from "./helpers.ts";
import { s3Credentials, startS3, type TestS3 } from "./s3rver.ts";

const photo = await encode(photoLike(320, 240), "jpeg");
const job = "/impressionist/s,100x0/png/files/a.jpg";

/** A directory with `files/a.jpg`, removed after `run`. */
async function withFiles(run: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-shared-" });
  try {
    await Deno.mkdir(join(dir, "files"));
    await Deno.writeFile(join(dir, "files", "a.jpg"), photo);
    await Deno.mkdir(join(dir, "store"));
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * One instance serving `dir/files`, with `store` as its shared result store (and `caches`
 * settings beyond it).
 */
function startInstance(
  dir: string,
  store: Record<string, unknown>,
  log: Logger = quietLog,
  caches: Record<string, unknown> = {},
): Promise<App> {
  return startApp(
    parseConfig({
      http: { host: "127.0.0.1", port: 0, workers: 1 },
      storages: [{ name: "files", type: "local", path: "files" }, { name: "store", ...store }],
      caches: { shared: "store", ...caches },
    }, dir),
    log,
  );
}

const sealer = new Sealer();

const localStore = { type: "local", path: "store" };
const s3Store = (endpoint: string, timeout = "2s") => ({
  type: "s3",
  ...s3Credentials,
  endpoint,
  bucket: "results",
  timeout,
});

async function get(app: App, path: string) {
  const response = await fetch(`http://127.0.0.1:${app.addr.port}${path}`, {
    signal: AbortSignal.timeout(30_000),
  });
  const body = new Uint8Array(await response.arrayBuffer());
  return {
    response,
    body,
    cache: response.headers.get("x-cache"),
    etag: response.headers.get("etag")!,
  };
}

const keyOf = (etag: string) => etag.slice(1, -1);

/** The stored object of a result, from either kind of store. */
async function storedObject(kind: string, dir: string, s3: TestS3, key: string) {
  if (kind === "local") return await Deno.readFile(join(dir, "store", "results", key));
  const response = await s3.client.fetch(s3.objectUrl("results", `results/${key}`), {
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(response.status, 200);
  return new Uint8Array(await response.arrayBuffer());
}

async function replaceObject(
  kind: string,
  dir: string,
  s3: TestS3,
  key: string,
  bytes: Uint8Array<ArrayBuffer>,
) {
  if (kind === "local") return await Deno.writeFile(join(dir, "store", "results", key), bytes);
  const response = await s3.client.fetch(s3.objectUrl("results", `results/${key}`), {
    method: "PUT",
    body: bytes,
    signal: AbortSignal.timeout(10_000),
  });
  assert.ok(response.ok);
  await response.body?.cancel();
}

for (const kind of ["local", "s3"]) {
  Deno.test(`shared store (${kind}): a result made on one instance is X-Cache: shared on another`, () =>
    // A stop waits for the background write, so nothing made is lost.
    afterOneResult(kind, async ({ dir, store, s3, made, key }) => {
      assert.equal(made.response.status, 200);
      assert.equal(made.cache, "miss");
      const object = await storedObject(kind, dir, s3, key);
      assert.equal(object.byteLength, SEAL_BYTES + made.body.byteLength);
      assert.deepEqual(sealer.unseal(key, object as Uint8Array<ArrayBuffer>), made.body);

      const b = await startInstance(dir, store);
      try {
        const shared = await get(b, job);
        assert.equal(shared.response.status, 200);
        assert.equal(shared.cache, "shared");
        assert.equal(shared.etag, made.etag);
        assert.equal(shared.response.headers.get("content-type"), "image/png");
        assert.deepEqual(shared.body, made.body);
        const again = await get(b, job);
        assert.equal(again.cache, "hit");
        assert.equal(b.pool.stats().jobs, 0, "instance B never ran the transform");
        // The store's objects are results, not images: no URL reads them.
        const probe = await get(b, `/impressionist/s,10x0/png/store/results/${key}`);
        assert.equal(probe.response.status, 404);
        const metrics = await (await fetch(`http://127.0.0.1:${b.addr.port}/metrics`)).text();
        assert.match(metrics, /impressionist_cache_hits_total\{cache="shared"\} 1\n/);
      } finally {
        await b.stop();
      }
    }));

  Deno.test(`shared store (${kind}): a damaged or foreign object is ignored and replaced`, () =>
    afterOneResult(kind, async ({ dir, store, s3, made, key }) => {
      const good = await storedObject(kind, dir, s3, key);
      const flipped = good.slice();
      flipped[SEAL_BYTES + 20] ^= 1;
      const foreign = [
        made.body, // the bare image, as another program might store it
        good.slice(0, -1), // truncated
        flipped,
        new Uint8Array(0),
        sealer.seal(key, new Uint8Array(7)).slice(0, SEAL_BYTES - 1),
        sealer.seal("another key", made.body),
      ];
      for (const bad of foreign) {
        await replaceObject(kind, dir, s3, key, bad);
        const log = recordingLog();
        const b = await startInstance(dir, store, log);
        const served = await get(b, job);
        await b.stop();
        assertRefusedOnce(log, key, "");
        assert.equal(served.response.status, 200);
        assert.equal(served.cache, "miss");
        assert.deepEqual(served.body, made.body);
        assert.deepEqual(await storedObject(kind, dir, s3, key), good, "the miss wrote it again");
      }
    }));
}

/** Runs `run` once an instance has made `job`'s result into a `kind` store, and stopped. */
async function afterOneResult(
  kind: string,
  run: (made: {
    dir: string;
    store: Record<string, unknown>;
    s3: TestS3;
    made: Awaited<ReturnType<typeof get>>;
    key: string;
  }) => Promise<void>,
) {
  const s3 = await startS3(["results"]);
  try {
    await withFiles(async (dir) => {
      const store = kind === "local" ? localStore : s3Store(s3.endpoint);
      const a = await startInstance(dir, store);
      const made = await get(a, job);
      await a.stop();
      await run({ dir, store, s3, made, key: keyOf(made.etag) });
    });
  } finally {
    await s3.close();
  }
}

/** The one error line `log` got: the shared copy of `key` refused, for `reason`. */
function assertRefusedOnce(log: { errors: string[] }, key: string, reason: string) {
  assert.equal(log.errors.length, 1, log.errors.join("\n"));
  assert.ok(
    log.errors[0].startsWith(`result cache: refused the shared copy of ${key} (a miss): ${reason}`),
    log.errors[0],
  );
}

for (const kind of ["local", "s3"]) {
  Deno.test(`shared store (${kind}): a result replaced by a validly sealed HTML page is a miss, logged, never copied into the result directory`, () =>
    afterOneResult(kind, async ({ dir, store, s3, made, key }) => {
      const page = new TextEncoder().encode("<html><script>alert(document.domain)</script>");
      await replaceObject(kind, dir, s3, key, sealer.seal(key, page));

      const log = recordingLog();
      const b = await startInstance(dir, store, log, { resultDir: "results" });
      try {
        const served = await get(b, job);
        assert.equal(served.response.status, 200);
        assert.equal(served.cache, "miss");
        assert.equal(served.response.headers.get("content-type"), "image/png");
        assert.equal(served.response.headers.get("x-content-type-options"), "nosniff");
        assert.deepEqual(served.body, made.body);
        assertRefusedOnce(log, key, "it holds no image");
        const health = await (await fetch(`http://127.0.0.1:${b.addr.port}/health`)).json();
        assert.equal(health.caches.result.shared.refused, 1);
        // The directory holds the recomputed result, never the page.
        const onDisk = await Deno.readFile(join(dir, "results", key));
        assert.deepEqual(sealer.unseal(key, onDisk), made.body);
      } finally {
        await b.stop();
      }
      assert.deepEqual(await storedObject(kind, dir, s3, key), sealer.seal(key, made.body));
    }));
}

/**
 * A fake S3 that fails in the given way: "error" answers 500 at once, "hang" never answers
 * until the end; "hold-puts" answers reads 404 and holds writes until `release`.
 */
function startFakeS3(mode: "error" | "hang" | "hold-puts") {
  const release = Promise.withResolvers<void>();
  const putArrived = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.body?.cancel();
    if (mode === "hang") await release.promise;
    if (mode === "hold-puts" && request.method === "PUT") {
      putArrived.resolve();
      await release.promise;
      return new Response(null, { status: 200 });
    }
    const code = mode === "error" ? "InternalError" : "NoSuchKey";
    return new Response(`<Error><Code>${code}</Code></Error>`, {
      status: mode === "error" ? 500 : 404,
    });
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    putArrived: putArrived.promise,
    release: release.resolve,
    async close() {
      release.resolve();
      await server.shutdown();
    },
  };
}

/** A logger that keeps error lines. */
function recordingLog(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { ...quietLog, errors, error: (message) => errors.push(message) };
}

async function sharedErrors(app: App): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${app.addr.port}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (
    const [, operation, value] of text.matchAll(
      /impressionist_shared_store_errors_total\{operation="(\w+)"\} (\d+)/g,
    )
  ) {
    counts[operation] = Number(value);
  }
  return counts;
}

for (const mode of ["error", "hang", "refused"] as const) {
  Deno.test(`shared store: a store that ${mode === "hang" ? "times out" : mode === "error" ? "fails" : "refuses connections"} costs a log line and a metric, never the request`, async () => {
    const fake = startFakeS3(mode === "refused" ? "error" : mode);
    if (mode === "refused") await fake.close();
    const log = recordingLog();
    try {
      await withFiles(async (dir) => {
        const app = await startInstance(dir, s3Store(fake.endpoint, "300ms"), log);
        try {
          const served = await get(app, job);
          assert.equal(served.response.status, 200);
          assert.equal(served.cache, "miss");
          assert.equal(served.response.headers.get("content-type"), "image/png");
          // The background write fails (or times out) a little later.
          for (let i = 0; i < 100 && (await sharedErrors(app)).put === undefined; i++) {
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          assert.deepEqual(await sharedErrors(app), { get: 1, put: 1 });
          assert.equal(log.errors.length, 2, log.errors.join("\n"));
          assert.match(log.errors[0], /^shared result store "store": get failed: /);
          assert.match(log.errors[1], /^shared result store "store": put failed: /);
          const again = await get(app, job);
          assert.equal(again.cache, "hit", "the memory tier still works");
        } finally {
          await app.stop();
        }
      });
    } finally {
      await fake.close();
    }
  });
}

Deno.test("shared store: a store that answers every read with a huge body holds no more than image.maxInflightBytes", async () => {
  // The wrong endpoint, or a proxy's error page: 200 and 48 MiB for every object.
  const garbage = new Uint8Array(48 << 20).fill(60);
  const fake = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.body?.cancel();
    return request.method === "PUT" ? new Response(null) : new Response(garbage);
  });
  const server = await startChildServer({ "a.jpg": photo }, {
    http: { workers: 2 },
    storages: [
      { name: "files", type: "local", path: "files" },
      { name: "store", ...s3Store(`http://127.0.0.1:${fake.addr.port}`, "10s") },
    ],
    caches: { shared: "store" },
    image: { maxInflightBytes: 16 << 20 },
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle = await rss(server.pid);
    const answers = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const response = await fetch(`${server.url}/s,${10 + i}x0/png/files/a.jpg`);
      await response.arrayBuffer();
      return `${response.status} ${response.headers.get("x-cache")}`;
    }));
    assert.deepEqual(answers, Array(8).fill("200 miss"));
    // Before, each read took its 48 MiB: 8 at once held ~400 MiB over the bound.
    const over = server.peakRss() - idle;
    assert.ok(over < 160 << 20, `peak RSS ${over >> 20} MiB over idle`);
    assert.match(server.output(), /shared result store "store": get failed: /);
  } finally {
    await server.close();
    await fake.shutdown();
  }
});

Deno.test("shared store: the response is complete while the write to the store is still running", async () => {
  const fake = startFakeS3("hold-puts");
  try {
    await withFiles(async (dir) => {
      const app = await startInstance(dir, s3Store(fake.endpoint, "10s"));
      try {
        const served = await get(app, job);
        assert.equal(served.response.status, 200);
        assert.equal(served.body.byteLength, Number(served.response.headers.get("content-length")));
        await fake.putArrived;
        const health = await (await fetch(`http://127.0.0.1:${app.addr.port}/health`)).json();
        assert.equal(health.caches.result.shared.pendingWrites, 1, "the write is still held");
      } finally {
        fake.release();
        await app.stop();
      }
    });
  } finally {
    await fake.close();
  }
});

Deno.test("shared store: caches.shared must name a storage that accepts writes", async () => {
  await withFiles(async (dir) => {
    await assert.rejects(
      startInstance(dir, { type: "http", baseUrl: "http://127.0.0.1:1/" }),
      ConfigError,
      `"caches.shared": storage "store" of type "http" is read-only: use an "s3" or "local" storage`,
    );
    assert.throws(
      () =>
        parseConfig({
          storages: [{ name: "files", type: "local", path: "files" }],
          caches: { shared: "nope" },
        }, dir),
      {
        name: "ConfigError",
        message: `"caches.shared" must name a configured storage, not "nope"`,
      },
    );
  });
});

/** A storage's config entry, as parseConfig makes it (its name and type read). */
function storageConfig(reader: ConfigReader) {
  return { name: reader.string("name"), type: reader.string("type"), reader };
}

Deno.test("local storage put: a rename into place, under the root only", async () => {
  await withFiles(async (dir) => {
    const reader = ConfigReader.of({ name: "store", type: "local", path: "store" }, "storages[0]");
    const storage = await createLocalStorage(storageConfig(reader), dir);
    await storage.put!("results/deep/key", new Uint8Array([1, 2, 3]));
    await storage.put!("results/deep/key", new Uint8Array([4, 5]));
    assert.deepEqual(
      await Deno.readFile(join(dir, "store", "results", "deep", "key")),
      new Uint8Array([4, 5]),
    );
    const names = [...Deno.readDirSync(join(dir, "store", "results", "deep"))].map((e) => e.name);
    assert.deepEqual(names, ["key"], "no temporary file left");
    await assert.rejects(storage.put!("../files/a.jpg", new Uint8Array(1)), Forbidden);
    assert.deepEqual(await Deno.readFile(join(dir, "files", "a.jpg")), photo);
  });
});

Deno.test("s3 storage put: a signed PUT that a get reads back, under the prefix", async () => {
  const s3 = await startS3(["results"]);
  try {
    const settings = {
      name: "store",
      type: "s3",
      ...s3Credentials,
      endpoint: s3.endpoint,
      bucket: "results",
      prefix: "cache",
    };
    const reader = ConfigReader.of(settings, "storages[0]");
    const storage = await createS3Storage(storageConfig(reader), ".");
    const bytes = new Uint8Array(5000).map((_, i) => i % 251);
    await storage.put!("results/k 1", bytes);
    const source = await storage.get("results/k 1", { maxBytes: 5000 }) as Source;
    assert.deepEqual(source.bytes, bytes);
    const direct = await s3.client.fetch(s3.objectUrl("results", "cache/results/k 1"));
    assert.deepEqual(new Uint8Array(await direct.arrayBuffer()), bytes);
  } finally {
    await s3.close();
  }
});
