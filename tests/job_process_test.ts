// The vips backend runs each worker's jobs in a process of its own (lib/pool/job_process.ts),
// killed to cancel a job. Seen from outside: a process that dies under a job fails that job
// alone, with a status that says why; nothing is left behind; none outlives its server.
// SIGABRT stands for a library's abort. A SIGSEGV sent from outside would not do: V8's handler
// for WebAssembly's traps lets the process go on.
import assert from "node:assert/strict";
import { FrameReader, writeFrame } from "../lib/pool/frames.ts";
import { cpuDuring, processesUnder, startBackendChild } from "./child_server.ts";
import { bigJpeg, cpuOfStat, encode, photoLike, quiet, sleep } from "./helpers.ts";

Deno.test("frames: headers and bytes come back whole across any chunking; a cut frame is an error", async () => {
  const written: Uint8Array[] = [];
  const writer = new WritableStream<Uint8Array>({ write: (chunk) => void written.push(chunk) })
    .getWriter();
  const source = new Uint8Array(new SharedArrayBuffer(70_001)).map((_, i) => i * 7);
  await writeFrame(writer, { type: "job", task: { chain: [{ name: "s" }], overlays: {} } }, source);
  await writeFrame(writer, { type: "done" });
  const all = new Uint8Array(written.reduce((n, chunk) => n + chunk.byteLength, 0));
  written.reduce((at, chunk) => (all.set(chunk, at), at + chunk.byteLength), 0);
  /** The stream's bytes in chunks of `size`, up to `end`. */
  const chunked = (size: number, end = all.byteLength) =>
    new ReadableStream<Uint8Array>({
      type: "bytes",
      start(controller) {
        for (let at = 0; at < end; at += size) {
          controller.enqueue(all.slice(at, Math.min(end, at + size)));
        }
        controller.close();
      },
    });
  for (const size of [1, 7, 4096, all.byteLength]) {
    const reader = new FrameReader(chunked(size));
    const first = await reader.next<{ type: string; task: unknown }>();
    assert.deepEqual(first?.header, {
      type: "job",
      task: { chain: [{ name: "s" }], overlays: {} },
    });
    assert.deepEqual(first?.bytes, new Uint8Array(source));
    const second = await reader.next<{ type: string }>();
    assert.deepEqual(second?.header, { type: "done" });
    assert.equal(second?.bytes.byteLength, 0);
    assert.equal(await reader.next(), undefined, `size ${size}: the end between frames`);
  }
  await assert.rejects(new FrameReader(chunked(100, 5000)).next(), /ended inside a frame/);
});

const big = await bigJpeg();
const small = await encode(photoLike(64, 48), "png");

/** The CPU seconds process `pid` alone has used (0 once it is gone). */
function ownCpu(pid: number): number {
  try {
    return cpuOfStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return 0;
  }
}

/** Whether `pid` is gone (or a zombie nobody has reaped yet). */
function gone(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return true;
  }
}

/** The status of a GET of `url`, its body dropped. */
async function statusOf(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

for (
  const [signal, status] of [["SIGABRT", 422], ["SIGKILL", 503]] as const
) {
  Deno.test(`job process (vips): one that ends by ${signal} under a job fails that job with ${status}; the next is served, nothing is left behind`, async () => {
    const server = await startBackendChild({ "big.jpg": big, "small.png": small }, "vips", {
      http: { workers: 1, timeout: "60s" },
    });
    if (!server) return;
    try {
      await quiet(server.pid);
      // Pipes: each job process has its stdin's and its stdout's (the HTTP client's kept-alive
      // connections come and go on their own).
      const pipes = () =>
        [...Deno.readDirSync(`/proc/${server.pid}/fd`)].filter(({ name }) => {
          try {
            return Deno.readLinkSync(`/proc/${server.pid}/fd/${name}`).startsWith("pipe:");
          } catch {
            return false; // Closed while we looked.
          }
        }).length;
      // None before a heavy job: the first one starts the worker's process.
      assert.deepEqual(processesUnder(server.pid), [], "job processes before any heavy job");
      const idlePipes = pipes();
      const heavy = fetch(`${server.url}/b,40/png/files/big.jpg`);
      // Settled below; an assertion failing before must not leave it unhandled.
      heavy.catch(() => {});
      await sleep(700);
      const running = processesUnder(server.pid);
      assert.equal(running.length, 1, `job processes under the heavy job: ${running}`);
      const [busy] = running;
      const cpu = ownCpu(busy);
      await sleep(200);
      assert.ok(ownCpu(busy) - cpu > 0.05, "the job process runs the job");
      Deno.kill(busy, signal);
      const response = await heavy;
      const text = response.status === 200 ? "an image" : await response.text();
      assert.equal(response.status, status, text);
      assert.match(text, new RegExp(signal));
      if (status === 503) assert.equal(response.headers.get("retry-after"), "1");
      assert.equal(await statusOf(`${server.url}/s,32x0/png/files/small.png`), 200);
      await quiet(server.pid);
      // None in its place until a heavy job needs one.
      assert.deepEqual(processesUnder(server.pid), [], "job processes afterwards");
      assert.ok(gone(busy), "the process that ended is reaped");
      assert.equal(pipes(), idlePipes, "the pipes of the process that ended are closed");
      assert.equal(
        await statusOf(`${server.url}/b,2,s,200x0/png/files/big.jpg`),
        200,
        "the next heavy job starts a process of its own",
      );
      assert.ok(server.alive());
    } finally {
      await server.close();
    }
  });
}

Deno.test("job process (vips): none outlives its server, even one in the middle of a job", async () => {
  const server = await startBackendChild({ "big.jpg": big }, "vips", {
    http: { workers: 1, timeout: "60s" },
  });
  if (!server) return;
  await quiet(server.pid);
  let processes: number[] = [];
  try {
    fetch(`${server.url}/b,40/png/files/big.jpg`).then((r) => r.body?.cancel(), () => {});
    await sleep(700);
    processes = processesUnder(server.pid);
    assert.equal(processes.length, 1, "the heavy job's process");
  } finally {
    // SIGKILL: the server has no chance to end them itself.
    await server.close();
  }
  for (let waited = 0; !processes.every(gone) && waited < 3000; waited += 50) await sleep(50);
  assert.deepEqual(processes.filter((pid) => !gone(pid)), [], "job processes left running");
});

Deno.test("job process (vips): one that ends while it waits for a job is forgotten, and the next heavy job starts another", async () => {
  const server = await startBackendChild({ "big.jpg": big }, "vips", {
    http: { workers: 1 },
  });
  if (!server) return;
  /** A heavy job: it runs in the worker's job process. */
  const heavy = async (i: number) => {
    assert.equal(await statusOf(`${server.url}/b,2,s,${200 + i}x0/png/files/big.jpg`), 200);
  };
  try {
    await quiet(server.pid);
    await heavy(0);
    const before = processesUnder(server.pid);
    assert.equal(before.length, 1, "the process the first heavy job started");
    Deno.kill(before[0], "SIGKILL");
    // Reaped: the server has seen it end (a zombie is not yet seen).
    const reaped = () => {
      try {
        Deno.statSync(`/proc/${before[0]}`);
        return false;
      } catch {
        return true;
      }
    };
    for (let waited = 0; !reaped() && waited < 10_000; waited += 50) await sleep(50);
    assert.ok(reaped(), "the process that ended is reaped");
    // The next heavy jobs are served by one new process (not the one that ended).
    for (let i = 1; i < 3; i++) await heavy(i);
    const after = processesUnder(server.pid);
    assert.equal(after.length, 1, `job processes: ${before} before, ${after} after`);
    assert.ok(!after.includes(before[0]), `${before} → ${after}`);
  } finally {
    await server.close();
  }
});

Deno.test("job process (vips): a light job runs in the worker's thread, a heavy one in the job process", async () => {
  // With every job process stopped (SIGSTOP), a light job is still served, from the worker's
  // thread; a heavy one waits for its process until its deadline, 503, and its process is then
  // killed; the next heavy job starts another.
  const server = await startBackendChild({ "big.jpg": big, "small.png": small }, "vips", {
    http: { workers: 1, timeout: "1500ms" },
  });
  if (!server) return;
  try {
    await quiet(server.pid);
    // A light job starts no job process; a heavy one starts the worker's.
    assert.equal(await statusOf(`${server.url}/s,16x0/png/files/small.png`), 200);
    assert.deepEqual(processesUnder(server.pid), [], "a light job started a job process");
    assert.equal(await statusOf(`${server.url}/b,2,s,200x0/png/files/big.jpg`), 200);
    const stopped = processesUnder(server.pid);
    assert.equal(stopped.length, 1, `job processes: ${stopped}`);
    for (const pid of stopped) Deno.kill(pid, "SIGSTOP");
    assert.equal(
      await statusOf(`${server.url}/s,32x0/png/files/small.png`),
      200,
      "a light job served with every job process stopped",
    );
    assert.equal(
      await statusOf(`${server.url}/b,40/png/files/big.jpg`),
      503,
      "a heavy job waits for its stopped job process",
    );
    for (const pid of stopped) {
      if (!gone(pid)) Deno.kill(pid, "SIGCONT");
    }
    await quiet(server.pid);
    assert.equal(
      await statusOf(`${server.url}/b,2,s,201x0/png/files/big.jpg`),
      200,
      "a heavy job served by a new job process",
    );
    assert.ok(server.alive());
  } finally {
    await server.close();
  }
});

Deno.test("job process (vips): light jobs that lose their clients leave the CPU quiet within 0.5 s", async () => {
  // A light job runs in the worker's thread, which nothing can stop inside libvips: it must be
  // short enough to end within the half second a cancelled job may take. The slowest light jobs
  // of bench/light_jobs.ts (a megapixel to PNG: 81–91 ms; W2 to WebP: 49–51), 6 at once on 2
  // workers, each client gone after 30 ms.
  const photo = await encode(photoLike(1000, 1000), "jpeg", 90);
  const w2 = await encode(photoLike(2040, 1356), "jpeg", 90);
  // Each under names of its own, so that no two requests share a result.
  const files = Object.fromEntries(
    [0, 1, 2].flatMap((i) => [[`photo${i}.jpg`, photo], [`w2_${i}.jpg`, w2]]),
  );
  const server = await startBackendChild(files, "vips", { http: { workers: 2 } });
  if (!server) return;
  try {
    await quiet(server.pid);
    const clients = Array.from({ length: 6 }, (_, i) => {
      const gone = new AbortController();
      setTimeout(() => gone.abort(), 30);
      const path = i % 2
        ? `none/png/files/photo${i >> 1}.jpg`
        : `s,512x512/webp/files/w2_${i >> 1}.jpg`;
      return fetch(`${server.url}/${path}`, { signal: gone.signal }).then(
        (response) => response.body?.cancel(),
        () => {},
      );
    });
    await Promise.all(clients);
    await sleep(500);
    const after = await cpuDuring(server.pid, 1500);
    assert.ok(after < 0.15, `${after.toFixed(2)} s of CPU from 0.5 to 2 s after the clients left`);
    assert.ok(server.alive());
  } finally {
    await server.close();
  }
});
