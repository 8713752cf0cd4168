// Deadlines that really stop the work: cooperative cancellation on every backend, measured as
// process CPU time (all threads, the pool's workers included), never as wall-clock time.
import assert from "node:assert/strict";
import { createBitmap } from "../lib/image/bitmap.ts";
import { gaussianBlur } from "../lib/image/blur.ts";
import { cancelJob, Cancelled, CancelToken, createCancelFlag } from "../lib/image/cancel.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { createMagickBackend } from "../lib/magick/backend.ts";
import type { MagickCanvas } from "../lib/magick/canvas.ts";
import { transformWandColors } from "../lib/magick/color.ts";
import { extendWand } from "../lib/magick/extend.ts";
import { grayscaleWand } from "../lib/magick/grayscale.ts";
import { encodeGif } from "../lib/pure/gif.ts";
import { sharpenBitmap } from "../lib/pure/ops.ts";
import { join } from "node:path";
import {
  bigJpeg,
  cpuOfStat,
  encode,
  photoLike,
  processCpu,
  pureDecodeCpu,
  quiet,
  skipWithout,
  sleep,
  startBackendServer,
  startTestServer,
} from "./helpers.ts";
import { rss, workerThreads } from "./child_server.ts";

const backends = ["pure", "imagemagick", "graphicsmagick"] as const;
const magickBackends = ["imagemagick", "graphicsmagick"] as const;

/** CPU seconds used so far by each Web Worker thread (Deno names them "worker-N") of `pid`. */
function workerThreadCpu(pid: number): Map<string, number> {
  const threads = new Map<string, number>();
  for (const { name } of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const comm = Deno.readTextFileSync(`/proc/${pid}/task/${name}/comm`);
      if (!comm.startsWith("worker")) continue;
      threads.set(name, cpuOfStat(Deno.readTextFileSync(`/proc/${pid}/task/${name}/stat`)));
    } catch {
      // The thread ended while we looked.
    }
  }
  return threads;
}

/** Resets the process's peak RSS (Linux `clear_refs` 5). */
function resetPeakRss(): void {
  Deno.writeTextFileSync("/proc/self/clear_refs", "5");
}

/** Peak RSS since the last reset, in MiB. */
function peakRssMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** A server in its own process, whose CPU and threads are its alone. */
interface ServerProcess {
  url: string;
  pid: number;
  close(): Promise<void>;
}

const mainModule = new URL("../main.ts", import.meta.url).pathname;

/**
 * Starts main.ts serving `big.jpg` on `backend`, as its own process: `deno test --parallel` runs
 * test files as threads of one process, so this process's CPU is not the server's alone.
 * Undefined (with a printed reason) when the backend's library is missing, except under CI=true.
 */
async function startServerProcess(
  backend: string,
  http: Record<string, unknown>,
): Promise<ServerProcess | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-cancel-" });
  await Deno.mkdir(join(dir, "files"));
  await Deno.writeFile(join(dir, "files", "big.jpg"), big);
  await Deno.writeFile(join(dir, "files", "small.png"), small);
  const config = {
    backend,
    http: { host: "127.0.0.1", port: 0, ...http },
    storages: [{ name: "files", type: "local", path: "files" }],
  };
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", mainModule, "-cfg", join(dir, "config.json")],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const listening = /listening on (http:\/\/\S+)/;
  while (!listening.test(text)) {
    const { value, done } = await stdout.read();
    if (done) break;
    text += value;
  }
  const url = listening.exec(text)?.[1];
  const errors = new Response(child.stderr).text();
  if (!url) {
    const reason = (await errors).trim();
    await child.status;
    await Deno.remove(dir, { recursive: true });
    if (backend === "pure" || Deno.env.get("CI") === "true") throw new Error(reason);
    console.log(`skipped: ${reason.slice(0, 200)}`);
    return undefined;
  }
  const drained = (async () => {
    while (!(await stdout.read()).done) {
      // the access log
    }
  })();
  return {
    url,
    pid: child.pid,
    async close() {
      child.kill("SIGKILL");
      await child.status;
      await Promise.all([drained, errors]);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A smooth 4096x4096 picture as a JPEG, made quickly (no per-pixel callback). */

/**
 * The runaway of issue 12: `b,50` eight times on a 4096x4096 JPEG. Debian's ImageMagick policy
 * caps its pixel cache at 256 MiB, too little to blur 4096x4096 (a quick 422), so there the
 * image is first shrunk to 2048x2048, which it can blur for many seconds.
 */
function runaway(backend: string): string {
  const chain = Array(8).fill("b,50").join(",");
  const shrink = backend === "imagemagick" ? "s,2048x2048," : "";
  return `${shrink}${chain}/png/files/big.jpg`;
}
const big = await bigJpeg();
const small = await encode(photoLike(64, 48), "png");

/**
 * How long the CPU is watched after a 503: the promise is idle within 0.5 s, so under 0.5 CPU-s
 * from the answer on; work that goes on past the deadline shows at once (2 s, as hostile_test).
 */
const AFTER_MS = 2000;

async function get(url: string) {
  const start = performance.now();
  const response = await fetch(url);
  await response.body?.cancel();
  return { status: response.status, ms: performance.now() - start };
}

/**
 * The CPU seconds one pure-backend decode of `bytes` takes here and now. libjpeg-turbo's
 * WebAssembly JPEG decoder is one call that nothing can interrupt, so a deadline that passes
 * during it is honoured only after it.
 */

for (const backend of [...backends, "vips"] as const) {
  Deno.test(`deadline (${backend}): a runaway chain gets 503 in time, then the CPU goes idle`, async () => {
    // On pure the deadline may fall inside the source's decode, which runs to its end.
    const codec = backend === "pure" ? await pureDecodeCpu(big) : 0;
    const server = await startServerProcess(backend, { timeout: "1s", workers: 2 });
    if (!server) return;
    try {
      await quiet(server.pid);
      const { status, ms } = await get(`${server.url}/${runaway(backend)}`);
      assert.equal(status, 503);
      // Generous: the promise is the 503 at the deadline, not a tight wall-clock bound.
      assert.ok(ms < 1000 + 2000, `the 503 took ${ms.toFixed(0)} ms`);
      const before = processCpu(server.pid);
      await sleep(AFTER_MS);
      const used = processCpu(server.pid) - before;
      console.log(
        `${backend}: ${used.toFixed(2)} s of process CPU in the ${
          AFTER_MS / 1000
        } s after the 503` +
          (codec ? ` (one uninterruptible decode: ${codec.toFixed(2)} s)` : ""),
      );
      assert.ok(used < 0.5 + codec, `${used.toFixed(2)} s of CPU after the 503`);
    } finally {
      await server.close();
    }
  });
}

for (const backend of magickBackends) {
  Deno.test(`deadline (${backend}): a small source's runaway chain stops too`, async () => {
    // A 64x48 source is read unwatched (its decode is short); ImageMagick copies the monitor
    // into an image when it reads it, so b,50 on the 3000x3000 made of it ran 15 s past the 503.
    const server = await startServerProcess(backend, { timeout: "1s", workers: 1 });
    if (!server) return;
    try {
      await quiet(server.pid);
      const { status } = await get(`${server.url}/s,3000x3000,b,50,b,50/png/files/small.png`);
      assert.equal(status, 503);
      const before = processCpu(server.pid);
      await sleep(AFTER_MS);
      const used = processCpu(server.pid) - before;
      assert.ok(
        used < 0.5,
        `${backend}: ${used.toFixed(2)} s of CPU in the ${AFTER_MS / 1000} s after the 503`,
      );
    } finally {
      await server.close();
    }
  });
}

Deno.test("deadline (vips): upscales, which grow on the shared resampler, stop at the deadline", async () => {
  // libvips runs queued steps at the encode; each growth here is TypeScript over 49 MP.
  const server = await startServerProcess("vips", { timeout: "1s", workers: 1 });
  if (!server) return;
  try {
    await quiet(server.pid);
    const chain = "s,7000x7000,s,7001x7001,s,7002x7002,s,7003x7003";
    const { status } = await get(`${server.url}/${chain}/png/files/small.png`);
    assert.equal(status, 503);
    const before = processCpu(server.pid);
    await sleep(AFTER_MS);
    const used = processCpu(server.pid) - before;
    assert.ok(
      used < 0.5,
      `vips: ${used.toFixed(2)} s of CPU in the ${AFTER_MS / 1000} s after the 503`,
    );
  } finally {
    await server.close();
  }
});

/**
 * Encodes that nothing stops once started, each planned too long for a 1 s deadline: gifenc is
 * plain JavaScript that reads no cancellation (4500x4500 ran ~0.6 s past its 503), and
 * GraphicsMagick's PNG writer never consults its monitor (4500x4500: 3.4 s past it).
 */
const encodesNothingStops = [
  { backend: "pure", path: "s,4000x4000/gif/files/small.png" },
  { backend: "graphicsmagick", path: "none/png/files/big.jpg" },
];

for (const { backend, path } of encodesNothingStops) {
  Deno.test(`deadline (${backend}): an encode nothing stops never starts when it cannot end in time (${path})`, async () => {
    const server = await startServerProcess(backend, { timeout: "1s", workers: 1 });
    if (!server) return;
    try {
      await quiet(server.pid);
      const { status, ms } = await get(`${server.url}/${path}`);
      assert.equal(status, 503);
      assert.ok(ms < 1000, `the 503 took ${ms.toFixed(0)} ms: it gave up before encoding`);
      const before = processCpu(server.pid);
      await sleep(1500);
      const used = processCpu(server.pid) - before;
      assert.ok(used < 0.3, `${used.toFixed(2)} s of CPU in the 1.5 s after the 503`);
    } finally {
      await server.close();
    }
  });
}

for (const backend of backends) {
  Deno.test(`deadline (${backend}): runaway requests in a row never run more threads than http.workers + 1`, async () => {
    const server = await startServerProcess(backend, { timeout: "1s", workers: 1 });
    if (!server) return;
    const { pid } = server;
    try {
      await quiet(pid);
      const rss = () =>
        Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) / 1024;
      const baseline = rss();
      let peak = baseline;
      // Every 250 ms: how many worker threads used CPU (at least 20 ms) since the last look.
      let busiest: string[] = [];
      let last = workerThreadCpu(pid);
      const sampler = setInterval(() => {
        peak = Math.max(peak, rss());
        const now = workerThreadCpu(pid);
        const busy = [...now].filter(([id, cpu]) => cpu - (last.get(id) ?? cpu) >= 0.02);
        if (busy.length > busiest.length) busiest = busy.map(([id, cpu]) => `${id}:${cpu}`);
        last = now;
      }, 250);
      try {
        for (let i = 0; i < 4; i++) {
          const response: Response = await fetch(`${server.url}/${runaway(backend)}`);
          const text = await response.text();
          // While a replaced worker still holds its pixel cache, the next one may meet Debian's
          // policy.xml cap on ImageMagick's memory (256 MiB for the whole process): a quick
          // refusal by the library, no runaway.
          if (backend === "imagemagick" && response.status === 422) {
            assert.match(text, /cache resources exhausted/);
            continue;
          }
          assert.equal(response.status, 503, text);
        }
        await sleep(AFTER_MS);
      } finally {
        clearInterval(sampler);
      }
      const grown = peak - baseline;
      console.log(
        `${backend}: at most ${busiest.length} worker thread(s) busy at once (${busiest}); ` +
          `peak RSS ${grown.toFixed(0)} MiB over the start`,
      );
      // The worker, and the one it replaced while that finishes a call it cannot stop.
      assert.ok(busiest.length <= 2, `${busiest.length} worker threads were busy at once`);
      // At most two jobs' worth: a 4096x4096 source with the blur's buffers is ~350 MB; four
      // jobs running at once would be four times that.
      assert.ok(grown < 700, `peak RSS grew by ${grown.toFixed(0)} MiB`);
    } finally {
      await server.close();
    }
  });
}

// Issue 21: a worker that is stopping inside a call nothing can interrupt (pure's WebAssembly
// JPEG decode, a sharp pipeline whose timeout counts whole seconds) must not hold the request
// queued behind it past its own deadline: the spare takes its place.
for (const backend of [...backends, "vips"]) {
  Deno.test(`deadline (${backend}): a small request right after a heavy job's 503 is served, with at most http.workers + 1 threads`, async () => {
    const server = await startServerProcess(backend, { timeout: "300ms", workers: 1 });
    if (!server) return;
    const { pid } = server;
    try {
      await quiet(pid);
      const idle = workerThreads(pid);
      // The server's and its job processes' (vips), in MiB.
      const rssMiB = async () => await rss(pid) / 2 ** 20;
      const idleRss = await rssMiB();
      let peak = idle;
      let peakRss = idleRss;
      const sampler = setInterval(async () => {
        peak = Math.max(peak, workerThreads(pid));
        peakRss = Math.max(peakRss, await rssMiB());
      }, 10);
      let heavy, next, used;
      try {
        heavy = await get(`${server.url}/${runaway(backend)}`);
        next = await get(`${server.url}/s,10x0/png/files/small.png`);
        const before = processCpu(pid);
        await sleep(AFTER_MS);
        used = processCpu(pid) - before;
      } finally {
        clearInterval(sampler);
      }
      console.log(
        `${backend}: heavy ${heavy.status} in ${heavy.ms.toFixed(0)} ms, then small ` +
          `${next.status} in ${
            next.ms.toFixed(0)
          } ms; worker threads idle ${idle}, peak ${peak}; ` +
          `${used.toFixed(2)} CPU-s in the ${AFTER_MS / 1000} s after; peak RSS ${
            (peakRss - idleRss).toFixed(0)
          } ` +
          `MiB over idle (${idleRss.toFixed(0)} MiB)`,
      );
      assert.equal(heavy.status, 503);
      assert.equal(next.status, 200);
      assert.ok(next.ms < 2000, `the small request took ${next.ms.toFixed(0)} ms`);
      // What runs after is the replaced worker finishing its call: on pure one decode at most;
      // on vips the start of the job process that replaces the one killed.
      const codec = backend === "pure" ? await pureDecodeCpu(big) : 0;
      assert.ok(used < 0.5 + codec, `${used.toFixed(2)} CPU-s after (decode: ${codec.toFixed(2)})`);
      // One worker and its spare; a replaced worker finishing its call takes the spare's place.
      assert.equal(idle, 2);
      assert.ok(peak <= 2, `${peak} worker threads at once`);
    } finally {
      await server.close();
    }
  });
}

Deno.test("cancel: a cancelled token stops resize, blur and sharpen; a later job's token is not affected", () => {
  const flag = createCancelFlag();
  const first = new CancelToken(flag, 1);
  const second = new CancelToken(flag, 2);
  const image = photoLike(300, 200);
  cancelJob(flag, 1);
  assert.throws(() => gaussianBlur(image, 3, first), Cancelled);
  assert.throws(() => resizeBitmap(image, 30, 20, first), Cancelled);
  assert.throws(() => sharpenBitmap(image, 3, first), Cancelled);
  assert.equal(gaussianBlur(image, 3, second).width, 300);
  assert.equal(resizeBitmap(image, 30, 20, second).width, 30);
  assert.equal(new Cancelled().status, 503);
});

/**
 * The magick backend `library` in this process; undefined (with a printed reason) when its
 * library is missing, except under CI=true, where that fails.
 */
function openMagick(library: (typeof magickBackends)[number]) {
  try {
    return createMagickBackend(library, { maxSourcePixels: 50_000_000 });
  } catch (error) {
    if (Deno.env.get("CI") === "true") throw error;
    console.log(`skipped: ${(error as Error).message}`);
  }
}

for (const library of magickBackends) {
  Deno.test({
    name:
      `cancel (${library}): the pixel rewrites in JavaScript (colours, grayscale, pad's border) stop`,
    ignore: await skipWithout("convert"),
    async fn() {
      const backend = openMagick(library);
      if (!backend) return;
      // br, ct and sat rewrite a large image for seconds: s,4634x4634,br,50 on GraphicsMagick
      // ran 0.4 s past its 503 when the deadline fell in it.
      const flag = createCancelFlag();
      const cancelled = new CancelToken(flag, 1);
      cancelJob(flag, 1);
      const png = await encode(photoLike(64, 48), "png");
      const canvas = await backend.decode(png, "png", { allFrames: false });
      try {
        const { api, wand } = canvas as MagickCanvas;
        const brighter = [1, 0, 0, 0.5, 0, 1, 0, 0.5, 0, 0, 1, 0.5] as const;
        assert.throws(() => transformWandColors(api, wand, brighter, cancelled), Cancelled);
        assert.throws(() => grayscaleWand(api, wand, cancelled), Cancelled);
        const box = { width: 80, height: 60 };
        const color = [255, 0, 0, 128] as const;
        assert.throws(
          () => extendWand(api, wand, box, { x: 8, y: 6 }, [...color], cancelled),
          Cancelled,
        );
      } finally {
        canvas.dispose();
      }
    },
  });
}

Deno.test("blur: a 1x200000 image needs a scratch buffer sized by the image", async () => {
  // In a process of its own: test files run in parallel share this one's peak RSS.
  const blur = new URL("../lib/image/blur.ts", import.meta.url).href;
  const script = `
    import { gaussianBlur } from "${blur}";
    const tall = { width: 1, height: 200000, data: new Uint8Array(800000).fill(200) };
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    const before = Deno.memoryUsage().rss;
    const out = gaussianBlur(tall, 20);
    const peak = Number(/VmHWM:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]) * 1024;
    console.log(JSON.stringify({ height: out.height, grown: (peak - before) / 2 ** 20 }));
  `;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
  }).output();
  assert.ok(success);
  const { height, grown } = JSON.parse(new TextDecoder().decode(stdout));
  assert.equal(height, 200_000);
  // The image, its 16-bit copy and the result are ~3 MB; the old scratch alone was 410 MB.
  assert.ok(grown < 64, `blurring a 1x200000 image took ${grown.toFixed(0)} MiB`);
});

/** A file made by ImageMagick's command line, for multi-page and many-frame sources. */
async function convert(args: string[]): Promise<Uint8Array> {
  const { success, stdout, stderr } = await new Deno.Command("convert", { args }).output();
  if (!success) throw new Error(new TextDecoder().decode(stderr));
  return stdout;
}

/**
 * A GIF of `count` identical frames: one frame encoded, then its blocks (everything between the
 * global colour table and the trailer) repeated. Much faster than any encoder.
 */
function manyFrameGif(side: number, count: number): Uint8Array {
  const frame = createBitmap(side, side);
  frame.data.fill(255);
  const one = encodeGif([{ bitmap: frame, delayMs: 100 }], 0);
  const packed = one[10];
  const head = 13 + (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0);
  const blocks = one.subarray(head, one.length - 1);
  const out = new Uint8Array(head + blocks.length * count + 1);
  out.set(one.subarray(0, head));
  for (let i = 0; i < count; i++) out.set(blocks, head + i * blocks.length);
  out[out.length - 1] = 0x3b;
  return out;
}

for (const library of magickBackends) {
  Deno.test({
    name: `${library}: a still output decodes only the first page of a TIFF and frame of a GIF`,
    ignore: await skipWithout("convert"),
    async fn() {
      const backend = openMagick(library);
      if (!backend) return;
      // Five 2000x2000 pages (32 MB each in a Q16 pixel cache), 300 frames of 300x300 (216 MB
      // in all): decoded whole, either would grow the peak far beyond one page's worth.
      const pages = ["red", "blue", "green", "white", "black"].map((c) => `xc:${c}`);
      const tiff = await convert(["-size", "2000x2000", ...pages, "-compress", "lzw", "tiff:-"]);
      const gif = manyFrameGif(300, 300);
      for (const [bytes, format, limit] of [[tiff, "tiff", 80], [gif, "gif", 60]] as const) {
        resetPeakRss();
        const before = Deno.memoryUsage().rss / 2 ** 20;
        const canvas = await backend.decode(bytes, format, { allFrames: false });
        const grown = peakRssMiB() - before;
        try {
          assert.equal(canvas.frameCount, 1);
          const { api, wand } = canvas as MagickCanvas;
          assert.equal(Number(api.c.MagickGetImageWidth(wand)), format === "tiff" ? 2000 : 300);
        } finally {
          canvas.dispose();
        }
        console.log(`${library}: ${format} decoded with a peak ${grown.toFixed(0)} MiB higher`);
        assert.ok(grown < limit, `${format}: peak RSS grew by ${grown.toFixed(0)} MiB`);
      }
    },
  });
}

for (const backend of backends) {
  Deno.test(`limits (${backend}): a source of exactly image.maxSourcePixels is served`, async () => {
    const files = { "small.png": await encode(photoLike(64, 48), "png") };
    for (const [maxSourcePixels, status] of [[64 * 48, 200], [64 * 48 - 1, 422]]) {
      // The output limit too: the library's own limit is the larger of the two.
      const image = { maxSourcePixels, maxOutputPixels: maxSourcePixels };
      const server = await startBackendServer(files, backend, { image });
      if (!server) return;
      try {
        const answer = await get(`${server.url}/s,10x10/png/files/small.png`);
        assert.equal(answer.status, status, `maxSourcePixels ${maxSourcePixels}`);
      } finally {
        await server.close();
      }
    }
  });
}

Deno.test("pool: a worker that ignores its cancellation is replaced by the spare; a second one then makes /health unhealthy until one stops", async () => {
  const server = await startTestServer(
    { "small.png": await encode(photoLike(64, 48), "png") },
    { http: { timeout: "300ms", workers: 1 } },
    { graceMs: 200, workerUrl: new URL("./fixtures/stuck_worker.ts", import.meta.url) },
  );
  const healthUrl = server.url.replace("/impressionist", "/health");
  const health = async () => {
    const response = await fetch(healthUrl);
    return { status: response.status, body: await response.json() };
  };
  const until = async (done: (seen: Awaited<ReturnType<typeof health>>) => boolean) => {
    let seen = await health();
    for (let i = 0; i < 200 && !done(seen); i++) {
      await sleep(20);
      seen = await health();
    }
    return seen;
  };
  const counts = (
    { body }: Awaited<ReturnType<typeof health>>,
  ) => [body.live, body.available, body.replaced, body.spare];
  try {
    // The fixture spins for 2.5 s on every job, deaf to its flag.
    assert.equal((await get(`${server.url}/s,10x10/png/files/small.png`)).status, 503);
    let seen = await until((seen) => seen.body.replaced === 1);
    // The spare took its place: one worker can take jobs, none waits in reserve.
    assert.equal(seen.status, 200);
    assert.deepEqual(counts(seen), [1, 1, 1, 0]);
    seen = await until((seen) => seen.body.stuck === 1);
    assert.equal(seen.status, 200, "stuck, but out of the way");
    // The next one cannot stop either, and has no spare behind it: it keeps its place.
    assert.equal((await get(`${server.url}/s,10x10/png/files/small.png`)).status, 503);
    seen = await until((seen) => seen.status === 503);
    assert.equal(seen.body.status, "unhealthy");
    assert.deepEqual(counts(seen), [1, 0, 1, 0]);
    assert.equal(seen.body.stuck, 2);
    // The first answers: it becomes the spare and at once takes the second's place.
    seen = await until((seen) => seen.status === 200);
    assert.deepEqual(counts(seen), [1, 1, 1, 0]);
    seen = await until((seen) => seen.body.busy === 0);
    assert.equal(seen.body.status, "ok");
    assert.deepEqual(counts(seen), [1, 1, 0, 1]);
    assert.deepEqual([seen.body.stuck, seen.body.draining], [0, 0]);
  } finally {
    await server.close();
  }
});
