import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig } from "../lib/config/config.ts";
import type { HttpError } from "../lib/errors.ts";
import type { Transform } from "../lib/jobs/transform.ts";
import { WorkerFailure, WorkerPool } from "../lib/pool/pool.ts";
import { decode, encode, photoLike, sleep, startTestServer } from "./helpers.ts";

const big = await encode(photoLike(2000, 1500), "png");
const small = await encode(photoLike(64, 48), "png");
const slowChain = Array(8).fill("b,40").join(",");

async function timed(url: string, init?: RequestInit) {
  const start = performance.now();
  const response = await fetch(url, init);
  const text = await response.text();
  return {
    status: response.status,
    text,
    ms: performance.now() - start,
    headers: response.headers,
  };
}

Deno.test("pool: a request past http.timeout gets 503 on time and its worker is free once it stops", async () => {
  const server = await startTestServer({ "big.png": big, "small.png": small }, {
    http: { timeout: "500ms", workers: 1 },
  });
  const healthUrl = server.url.replace("/impressionist", "/health");
  try {
    const slow = await timed(`${server.url}/${slowChain}/png/files/big.png`);
    assert.equal(slow.status, 503);
    assert.ok(slow.headers.get("retry-after"));
    assert.ok(slow.ms < 500 + 1000, `answered in ${slow.ms.toFixed(0)} ms`);
    // The spare takes the cancelled worker's place, which rejoins as the spare once it has
    // stopped; no thread is started meanwhile.
    let stats = JSON.parse((await timed(healthUrl)).text);
    assert.equal(stats.workers, 1);
    while (stats.busy > 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stats = JSON.parse((await timed(healthUrl)).text);
    }
    const next = await timed(`${server.url}/s,10x0/png/files/small.png`);
    assert.equal(next.status, 200);
  } finally {
    await server.close();
  }
});

const limits = parseConfig({ storages: [] }, ".").image;
const task = (chain: Transform["chain"]): Transform => ({
  chain,
  format: { type: "png", quality: 75 },
  limits,
  autoOrient: true,
  shrinkOnLoad: "fast",
});

Deno.test("pool: a job that cannot be posted fails alone, and the pool stays usable", async () => {
  const pool = await WorkerPool.start({ size: 1, queueLimit: 1, backend: "pure", limits });
  try {
    const signal = new AbortController().signal;
    // A function cannot be cloned into a worker: postMessage throws after the slot was taken.
    const uncloneable = task([{ name: "gs", params: () => {} }]);
    await assert.rejects(pool.run(uncloneable, small.slice(), signal), WorkerFailure);
    assert.equal(pool.stats().busy, 0);
    for (let i = 0; i < 3; i++) {
      const output = await pool.run(
        task([{ name: "gs", params: undefined }]),
        small.slice(),
        signal,
      );
      assert.equal((await decode(output)).width, 64);
    }
  } finally {
    pool.close();
  }
});

Deno.test("pool: a worker that crashes fails its job alone with a 500 and is replaced", async () => {
  const pool = await WorkerPool.start({
    size: 1,
    queueLimit: 1,
    backend: "pure",
    limits,
    workerUrl: new URL("./fixtures/crashing_worker.ts", import.meta.url),
  });
  try {
    const signal = new AbortController().signal;
    for (let i = 0; i < 2; i++) {
      const crash = pool.run(task([{ name: "crash", params: undefined }]), small.slice(), signal);
      await assert.rejects(crash, (error: HttpError) => error.status === 500);
      // The spare (or a new worker, once started) takes the crashed one's place.
      const echoed = await pool.run(task([]), small.slice(), signal);
      assert.deepEqual(echoed, small);
      assert.deepEqual([pool.stats().workers, pool.stats().busy], [1, 0]);
    }
  } finally {
    pool.close();
  }
});

const exitingWorker = new URL("./fixtures/exiting_worker.ts", import.meta.url);
const failStarts = "IMPRESSIONIST_TEST_FAIL_STARTS";
const exitNow = new TextEncoder().encode("EXIT now");

Deno.test("pool: a worker that exits is replaced; while starts fail they back off, and the gap shows", async () => {
  const errors: string[] = [];
  const pool = await WorkerPool.start({
    size: 1,
    queueLimit: 2,
    backend: "pure",
    limits,
    workerUrl: exitingWorker,
    onInternalError: (detail) => errors.push(detail),
  });
  const signal = new AbortController().signal;
  const gap = () => {
    const { workers, live, available } = pool.stats();
    return { workers, live, available };
  };
  try {
    while (!pool.stats().spare) await sleep(50);
    Deno.env.set(failStarts, "1");
    // The warm spare takes the first lost worker's place at once; its own successor cannot start.
    await assert.rejects(
      pool.run(task([]), exitNow.slice(), signal),
      (error: WorkerFailure) => error.status === 500 && error.detail === "worker exited",
    );
    assert.deepEqual(gap(), { workers: 1, live: 1, available: 1 });
    assert.equal((await decode(await pool.run(task([]), small.slice(), signal))).width, 64);
    // The second has no spare behind it: the pool is one worker short until a start works.
    await assert.rejects(pool.run(task([]), exitNow.slice(), signal), WorkerFailure);
    assert.deepEqual(gap(), { workers: 1, live: 0, available: 0 });
    const waiting = pool.run(task([]), small.slice(), signal);
    waiting.catch(() => {}); // awaited below; a failure before that must not go unhandled
    await sleep(1500);
    assert.deepEqual(gap(), { workers: 1, live: 0, available: 0 });
    const failed = errors.filter((e) => e.startsWith("cannot start a worker")).length;
    // 100, 200, 400, 800 ms apart: a handful of tries in 1.5 s, not a tight loop.
    assert.ok(failed >= 2 && failed <= 6, `${failed} failed starts:\n${errors.join("\n")}`);
    assert.match(errors.find((e) => e.startsWith("cannot start"))!, /trying again in 100 ms$/);
    Deno.env.delete(failStarts);
    // The next try (at most 1.6 s away) works, and the waiting job runs on the new worker.
    assert.equal((await decode(await waiting)).width, 64);
    assert.deepEqual(gap(), { workers: 1, live: 1, available: 1 });
    assert.deepEqual(errors.filter((e) => e.startsWith("a worker")), [
      "a worker exited; replacing it",
      "a worker exited; replacing it",
    ]);
  } finally {
    Deno.env.delete(failStarts);
    pool.close();
  }
});

Deno.test("pool: /health reports a missing worker (503) until its replacement has started", async () => {
  const server = await startTestServer({ "exit.bin": exitNow, "small.png": small }, {}, {
    workerUrl: exitingWorker,
  });
  const health = async () => {
    const response = await fetch(server.url.replace("/impressionist", "/health"));
    return { status: response.status, body: await response.json() };
  };
  try {
    let seen = await health();
    assert.equal(seen.status, 200);
    assert.deepEqual([seen.body.workers, seen.body.live, seen.body.status], [1, 1, "ok"]);
    while (!(await health()).body.spare) await sleep(50);
    Deno.env.set(failStarts, "1");
    for (let i = 0; i < 2; i++) {
      assert.equal((await timed(`${server.url}/s,10x0/png/files/exit.bin`)).status, 500);
    }
    seen = await health();
    assert.equal(seen.status, 503);
    assert.deepEqual(
      [seen.body.status, seen.body.workers, seen.body.live, seen.body.available],
      ["unhealthy", 1, 0, 0],
    );
    Deno.env.delete(failStarts);
    for (let i = 0; i < 100 && seen.status === 503; i++) {
      await sleep(100);
      seen = await health();
    }
    assert.deepEqual([seen.status, seen.body.live, seen.body.status], [200, 1, "ok"]);
    assert.equal((await timed(`${server.url}/s,10x0/png/files/small.png`)).status, 200);
  } finally {
    Deno.env.delete(failStarts);
    await server.close();
  }
});

Deno.test("pool: admission counts requests still reading their source, and release frees them", async () => {
  const pool = await WorkerPool.start({ size: 1, queueLimit: 1, backend: "pure", limits });
  try {
    const signal = new AbortController().signal;
    const first = pool.admit();
    const second = pool.admit();
    assert.throws(() => pool.admit(), (error: HttpError) => error.status === 503);
    first.release();
    first.release(); // twice is harmless
    const third = pool.admit();
    const output = await second.run(task([]), small.slice(), signal);
    assert.equal((await decode(output)).height, 48);
    second.release(); // after run: nothing more to free
    assert.ok(pool.admit());
    third.release();
    const aborted = AbortSignal.abort();
    await assert.rejects(
      pool.run(task([]), small.slice(), aborted),
      (error: HttpError) => error.status === 503,
    );
  } finally {
    pool.close();
  }
});

Deno.test("pool: a flood past workers + queue gets fast 503s, and /health stays quick", async () => {
  const server = await startTestServer({ "big.png": big }, {
    http: { workers: 1, queue: 2, timeout: "60s" },
  });
  try {
    const flood = Array.from(
      { length: 8 },
      (_, i) => timed(`${server.url}/b,${10 + i},b,20/png/files/big.png`),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const healthUrl = server.url.replace("/impressionist", "/health");
    const checks = [];
    for (let i = 0; i < 5; i++) checks.push(await timed(healthUrl));
    const slowest = Math.max(...checks.map((c) => c.ms));
    assert.ok(slowest < 50, `/health took up to ${slowest.toFixed(0)} ms`);
    const body = JSON.parse(checks[0].text);
    assert.equal(body.busy, 1);
    assert.equal(body.queued, 2);
    const answers = await Promise.all(flood);
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 503, 503, 503, 503, 503]);
    for (const refused of answers.filter((a) => a.status === 503)) {
      assert.ok(refused.ms < 200, `a refusal took ${refused.ms.toFixed(0)} ms`);
    }
  } finally {
    await server.close();
  }
});

Deno.test("pool: decompression bombs are refused from the header, quickly", async () => {
  const server = await startTestServer({
    "bomb.png": pngClaiming(100_000, 100_000),
    "bomb.jpg": jpegClaiming(65_000, 65_000),
  });
  try {
    const before = Deno.memoryUsage().rss;
    for (let i = 0; i < 10; i++) {
      for (const name of ["bomb.png", "bomb.jpg"]) {
        const answer = await timed(`${server.url}/s,100x0/png/files/${name}`);
        assert.equal(answer.status, 422, name);
        assert.match(answer.text, /pixels: at most/);
        assert.ok(answer.ms < 500, `${name} took ${answer.ms.toFixed(0)} ms`);
      }
    }
    const grown = (Deno.memoryUsage().rss - before) / 2 ** 20;
    assert.ok(grown < 64, `memory grew by ${grown.toFixed(0)} MiB`);
  } finally {
    await server.close();
  }
});

Deno.test("pool: limits on source bytes, output pixels, chain and blur are 4xx", async () => {
  const server = await startTestServer({ "small.png": small }, {
    image: { maxSourceBytes: 1000, maxOutputPixels: 10_000, maxChain: 3, maxBlurSigma: 5 },
  });
  try {
    const url = (path: string) => `${server.url}/${path}`;
    assert.equal((await timed(url("gs/png/files/small.png"))).status, 413);
    await Deno.writeFile(
      join(server.dir, "files", "tiny.png"),
      await encode(photoLike(8, 8), "png"),
    );
    assert.equal((await timed(url("s,8x8/png/files/tiny.png"))).status, 200);
    assert.equal((await timed(url("s,101x100/png/files/tiny.png"))).status, 400);
    assert.equal((await timed(url("gs,gs,gs,gs/png/files/tiny.png"))).status, 400);
    assert.equal((await timed(url("b,6/png/files/tiny.png"))).status, 400);
  } finally {
    await server.close();
  }
});

/** A valid PNG signature and IHDR that claim a huge size, with no pixel data. */
function pngClaiming(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(8 + 25 + 12);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, 13);
  bytes.set([0x49, 0x48, 0x44, 0x52], 12);
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes.set([8, 6, 0, 0, 0], 24);
  return bytes;
}

/** A JPEG whose SOF0 claims a huge size, followed by nothing useful. */
function jpegClaiming(width: number, height: number): Uint8Array {
  const sof = [0xff, 0xc0, 0, 17, 8, height >> 8, height & 255, width >> 8, width & 255, 3];
  const components = [1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return new Uint8Array([0xff, 0xd8, ...sof, ...components, 0xff, 0xd9]);
}
