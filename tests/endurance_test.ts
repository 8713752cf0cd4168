// The server run the way production traffic runs it over time: rounds of mixed requests (hits,
// misses, 4xx, 422 bad images, 503s from a full pool and from deadlines, clients leaving
// mid-job, watermarks, animated GIFs, AVIF, `auto` with ever new `Accept` headers, ever new
// missing paths), then what a leak would show: open descriptors, threads, resident memory,
// the metrics' label sets, and places in the pool that are never given back.
//
// By default one short run on `pure` (a few seconds). ENDURE_LONG=1 runs every backend for
// thousands of requests and checks that memory reaches a plateau.
import assert from "node:assert/strict";
import {
  backendNames,
  type ChildServer,
  rss,
  startBackendChild,
  workerThreads,
} from "./child_server.ts";
import { encode, photoLike } from "./helpers.ts";
import { animatedGif } from "./hostile_images.ts";

const LONG = Deno.env.get("ENDURE_LONG") === "1";
const ROUNDS = LONG ? 10 : 3;
const PER_ROUND = LONG ? 600 : 72;
const AT_ONCE = 8;

const files = {
  "a.jpg": await encode(photoLike(256, 192), "jpeg"),
  "big.jpg": await encode(photoLike(1200, 900), "jpeg"),
  "logo.png": await encode(photoLike(64, 48), "png"),
  "s.avif": await encode(photoLike(64, 48), "avif"),
  "anim.gif": animatedGif(32, 32, 5),
  "bad.jpg": new TextEncoder().encode("this is not an image, whatever its name says".repeat(8)),
};

/** The n-th request of the mix: a path, and whether its client leaves after 15 ms. */
function mixed(n: number): { path: string; accept?: string; leave?: boolean } {
  switch (n % 12) {
    case 0:
      return { path: "/s,64x0/png/files/a.jpg" };
    case 1:
      return { path: `/s,${16 + (n % 400)}x0/webp/files/a.jpg` };
    case 2:
      return { path: `/s,10x0/png/files/missing-${n}.jpg` };
    case 3:
      return { path: "/s,10x0/png/files/bad.jpg" };
    case 4:
      return { path: `/zz,${n}/png/files/a.jpg` };
    case 5:
      return { path: `/s,${20 + (n % 50)}x0,wm,logo/jpeg/files/a.jpg` };
    case 6:
      return { path: `/s,${8 + (n % 40)}x0/gif/files/anim.gif` };
    case 7:
      return { path: `/s,${8 + (n % 30)}x0/avif/files/s.avif` };
    case 8:
      return { path: `/s,${800 + (n % 300)}x0,b,8/png/files/big.jpg`, leave: true };
    case 9:
      return { path: `/s,${900 + (n % 300)}x0,b,20/png/files/big.jpg` };
    case 10:
      return { path: "/s,32x0/auto/files/a.jpg", accept: `image/webp,image/x-${n}` };
    default:
      return { path: `/s,${30 + (n % 70)}x0/jpeg/files/a.jpg` };
  }
}

async function count(dir: string): Promise<number> {
  let n = 0;
  for await (const _ of Deno.readDir(dir)) n++;
  return n;
}

/** Waits until the pool is idle: no job running or queued (the spare may still be starting). */
async function idle(server: ChildServer): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const health = await (await fetch(`${server.origin}/health`)).json();
    if (health.busy === 0 && health.queued === 0 && health.live === health.workers) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the pool never became idle");
}

interface Sample {
  rss: number;
  fds: number;
  /** Web Worker threads (named `worker-N`): the pool's, its spare and a replaced one. */
  workerThreads: number;
}

async function sample(server: ChildServer): Promise<Sample> {
  return {
    rss: await rss(server.pid),
    fds: await count(`/proc/${server.pid}/fd`),
    workerThreads: workerThreads(server.pid),
  };
}

/** Label values a client could reach, by label: none of them may come from client text. */
const allowedLabels: Record<string, RegExp> = {
  status: /^[1-5]\d\d$/,
  type: /^[a-z_]+$/,
  cache: /^(source|result|shared)$/,
  storage: /^files$/,
  operation: /^(get|put)$/,
};

for (const backend of LONG ? await backendNames() : ["pure"]) {
  Deno.test(`endurance (${backend}): ${ROUNDS}x${PER_ROUND} mixed requests leak no descriptor, worker thread, label or place in the pool`, async () => {
    const server = await startBackendChild(files, backend, {
      http: { workers: 2, queue: 2, timeout: "1500ms" },
      caches: { resultDir: "results", resultDirBytes: 2_000_000, result: 1_000_000 },
      watermarks: [{ name: "logo", storage: "files", path: "logo.png" }],
    }, { maxRss: 4 * 1024 ** 3 });
    if (!server) return;
    const statuses = new Map<number, number>();
    let n = 0;
    const one = async () => {
      const { path, accept, leave } = mixed(n++);
      const signal = leave ? AbortSignal.timeout(15) : undefined;
      try {
        const response = await fetch(server.url + path, {
          signal,
          headers: accept ? { accept } : {},
        });
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      } catch (error) {
        if (!leave) throw error;
      }
    };
    const round = async () => {
      for (let i = 0; i < PER_ROUND; i += AT_ONCE) {
        await Promise.all(Array.from({ length: AT_ONCE }, one));
      }
      await idle(server);
      return await sample(server);
    };
    try {
      const first = await round();
      const samples: Sample[] = [];
      for (let i = 1; i < ROUNDS; i++) samples.push(await round());
      const report = `${backend}: first ${JSON.stringify(first)}, then ${
        JSON.stringify(samples)
      }, ${JSON.stringify(Object.fromEntries(statuses))}`;
      if (LONG) console.log(report);
      // Only a 503 is a server-side status a client may get; never a 500, never a crash.
      for (const status of statuses.keys()) {
        assert.ok(status < 500 || status === 503, `status ${status}: ${report}`);
      }
      assert.ok(server.alive(), report);
      for (const later of [first, ...samples]) {
        assert.ok(later.fds <= first.fds + 4, `descriptors grow: ${report}`);
        // The other threads are the runtime's (its file-system pool grows and shrinks).
        assert.ok(later.workerThreads <= 2 + 1, `more than workers + 1 threads: ${report}`);
      }
      if (LONG) {
        // Memory reaches a plateau: the last rounds hold no more than the early ones, give or
        // take the collector's timing (pure's WebAssembly memory never shrinks, but stops
        // growing once the largest job has run).
        const early = Math.max(...samples.slice(0, 3).map((s) => s.rss));
        const late = Math.max(...samples.slice(-3).map((s) => s.rss));
        assert.ok(late <= early * 1.25, `RSS grows: ${report}`);
      }
      const metrics = await (await fetch(`${server.origin}/metrics`)).text();
      const ours = metrics.split("\n").filter((line) => line.startsWith("impressionist_"));
      for (const [, name, value] of ours.join("\n").matchAll(/(\w+)="([^"]*)"/g)) {
        const allowed = allowedLabels[name];
        if (allowed) assert.match(value, allowed, `label ${name}="${value}"`);
      }
      assert.ok(ours.length < 100, `${ours.length} series: ${report}`);
      // Every place in the pool, held byte and job budget was given back: a burst of new
      // requests, as many as workers + queue, is served.
      const fresh = await Promise.all(
        [1, 2, 3, 4].map((i) => fetch(`${server.url}/s,${700 + i}x0/jpeg/files/big.jpg`)),
      );
      for (const response of fresh) {
        await response.arrayBuffer();
        assert.equal(response.status, 200, report);
      }
    } finally {
      await server.close();
    }
  });
}
