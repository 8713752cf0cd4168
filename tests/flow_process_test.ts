// Issue 20, measured on a server in its own process: a client that goes away stops its job
// (CPU read from /proc) on every backend, and long URLs cannot grow memory (RSS read from /proc).
import assert from "node:assert/strict";
import {
  backendNames,
  cpuDuring,
  rss,
  startBackendChild,
  startChildServer,
} from "./child_server.ts";
import { bigJpeg, encode, hangUpAfter, photoLike, pureDecodeCpu, quiet } from "./helpers.ts";

const big = await bigJpeg();
const small = await encode(photoLike(64, 48), "jpeg");

/**
 * `b,40/png` on the 4096x4096 JPEG. Debian's ImageMagick policy caps its pixel cache at
 * 256 MiB, too little to blur 4096x4096 (a quick 422), so there the image is first shrunk to
 * 2048x2048, which it still blurs for many seconds.
 */
function longJob(backend: string): string {
  return `${backend === "imagemagick" ? "s,2048x2048," : ""}b,40/png/files/big.jpg`;
}

for (const backend of await backendNames()) {
  Deno.test(`disconnect (${backend}): a client that leaves stops its job; the next request is served`, async () => {
    // On pure the client may leave inside the source's decode, which runs to its end.
    const codec = backend === "pure" ? await pureDecodeCpu(big) : 0;
    const server = await startBackendChild(
      { "big.jpg": big, "small.jpg": small },
      backend,
      // A deadline far away: only the client leaving can stop the job.
      { http: { workers: 1, timeout: "120s" } },
    );
    if (!server) return;
    try {
      await quiet(server.pid);
      await hangUpAfter(`${server.url}/${longJob(backend)}`, 300);
      const used = await cpuDuring(server.pid, 2000);
      const start = performance.now();
      const next = await fetch(`${server.url}/s,32x0/png/files/small.jpg`);
      await next.body?.cancel();
      const ms = performance.now() - start;
      console.log(
        `${backend}: ${used.toFixed(2)} s of CPU in the 2 s after the client left` +
          (codec ? ` (one uninterruptible decode: ${codec.toFixed(2)} s)` : "") +
          `; the next request took ${ms.toFixed(0)} ms`,
      );
      // On vips the job's process is killed, and its reaping is counted here too.
      assert.ok(used < 0.5 + codec, `${used.toFixed(2)} s of CPU after the client left`);
      assert.equal(next.status, 200);
      // Generous: the job left running would hold the one worker for many seconds more.
      assert.ok(ms < 5000, `the next request waited ${ms.toFixed(0)} ms`);
      assert.match(server.output(), / 499 /, "the access log names the client that left");
    } finally {
      await server.close();
    }
  });
}

Deno.test("memo: 3000 distinct 60 KB URLs that 404 do not grow memory", async () => {
  const server = await startChildServer({ "small.jpg": small });
  try {
    const ok = await fetch(`${server.url}/s,32x0/png/files/small.jpg`);
    await ok.body?.cancel();
    const long = "a".repeat(60 * 1024);
    let next = 0;
    const statuses = new Map<number, number>();
    /** Sends distinct long URLs, eight clients at a time (as a crawler would), up to `end`. */
    const crawl = (end: number) =>
      Promise.all(Array.from({ length: 8 }, async () => {
        while (next < end) {
          const i = next++;
          const response = await fetch(`${server.url}/s,10x10/png/files/${i}${long}.jpg`);
          await response.body?.cancel();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }
      }));
    const mib = (bytes: number) => bytes / 1024 ** 2;
    const start = await rss(server.pid);
    await crawl(1500);
    const half = await rss(server.pid);
    await crawl(3000);
    const end = await rss(server.pid);
    console.log(
      `RSS ${mib(start).toFixed(0)} → ${mib(half).toFixed(0)} → ${mib(end).toFixed(0)} MiB ` +
        `(peak ${mib(server.peakRss()).toFixed(0)} MiB) after 1500 and 3000 long URLs`,
    );
    assert.deepEqual([...statuses], [[404, 3000]]);
    // 1500 URLs of 60 KB are 90 MB of client text: kept, the second half would grow RSS by
    // that much at least. The memo keeps a few MiB; what remains is the heap's own slack.
    assert.ok(mib(end - half) < 40, `RSS grew by ${mib(end - half).toFixed(0)} MiB more`);
    assert.ok(mib(end - start) < 250, `RSS grew by ${mib(end - start).toFixed(0)} MiB`);
  } finally {
    await server.close();
  }
});
