// W1 and W2 of issue 14, through the real server on each backend, against ipx 3.1.1 (Node +
// sharp, in its own process) and against the engine's bare loop, all in the same run: absolute
// figures on a shared 2-core machine are noise, ratios within one run much less so. CPU time
// per image is printed too: on a loaded machine it is the fairer measure, since a process with
// more threads (ipx) takes a larger share of the cores.
import { join } from "node:path";
import type { Bitmap, Size } from "../lib/image/bitmap.ts";
import { createMagickBackend } from "../lib/magick/backend.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { psnr } from "../tests/helpers.ts";
import { photoOf, w1Source } from "./sources.ts";
import type { BackendName } from "../lib/config/config.ts";
import { bareLoop } from "./bare.ts";
import { type IpxServer, startIpx } from "./ipx.ts";
import { loadRun } from "./load.ts";
import { ownCpuMs } from "./process.ts";
import type { Recipe } from "./recipes.ts";
import { type ServerProcess, startServerProcess } from "./server_process.ts";

export interface WorkloadOptions {
  quick: boolean;
  backends: BackendName[];
}

/** Client counts every contender is loaded with: the cores' count, and saturation. */
const CLIENT_COUNTS = [2, 8];
const MiB = 2 ** 20;

/** What one contender measured. */
interface Measured {
  rps: number;
  /** CPU time per image of the process doing the work, in ms. */
  cpuMs: number;
  bytes: number;
  peakRss?: number;
  /** CPU time of the load client per request; a bare loop has none. */
  clientCpuMs?: number;
}

function isMagick(backend: BackendName): backend is "imagemagick" | "graphicsmagick" {
  return backend === "imagemagick" || backend === "graphicsmagick";
}

/** One source served under `count` names (hard links), so no two requests share a result. */
async function linkCopies(dir: string, bytes: Uint8Array, count: number): Promise<void> {
  const first = join(dir, "photo-0.jpg");
  await Deno.writeFile(first, bytes);
  for (let i = 1; i < count; i++) await Deno.link(first, join(dir, `photo-${i}.jpg`));
}

/**
 * Bytes of one answer, fetched once outside the timing, then `warmUp` requests at the run's
 * client count, also untimed: a server's JavaScript (ours: the HTTP thread and every worker; ipx:
 * its one thread) runs at full speed only once the engine has optimised its hot paths, which the
 * first few dozen requests of a fresh process do not see. A bare loop warms up on its first image.
 */
async function warmedUp(url: string, clients: number, warmUp: number): Promise<number> {
  const response = await fetch(url.replaceAll("{i}", "0"));
  const body = await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
  await loadRun(url, clients, warmUp);
  return body.byteLength;
}

/** Untimed requests before each timed run of a server (see `warmedUp`). */
const WARM_UP = 40;

/** Load on our server, whose CPU time and peak memory are read from its process. */
async function ours(
  server: ServerProcess,
  path: string,
  total: number,
  clients: number,
): Promise<Measured> {
  const url = `${server.url}${path}`;
  const bytes = await warmedUp(url, clients, Math.min(WARM_UP, total));
  const before = server.cpuMs();
  const { rps, clientCpuPerRequest: clientCpuMs, requests } = await loadRun(url, clients, total);
  const cpuMs = (server.cpuMs() - before) / requests;
  return { rps, cpuMs, bytes, peakRss: server.peakRss(), clientCpuMs };
}

/** Load on ipx, whose CPU time is read from its process. */
async function theirs(
  ipx: IpxServer,
  path: string,
  total: number,
  clients: number,
): Promise<Measured> {
  const url = `${ipx.url}${path}`;
  const bytes = await warmedUp(url, clients, Math.min(WARM_UP, total));
  const before = ipx.cpuMs();
  const { rps, clientCpuPerRequest: clientCpuMs, requests } = await loadRun(url, clients, total);
  return { rps, cpuMs: (ipx.cpuMs() - before) / requests, bytes, clientCpuMs };
}

/** A bare loop in as many workers as there would be clients. */
async function bare(
  recipe: Recipe,
  source: Uint8Array,
  total: number,
  workers: number,
): Promise<Measured> {
  const count = Math.ceil(total / workers);
  const before = ownCpuMs();
  const { rps, bytes } = await bareLoop(recipe, source, workers, count);
  // Warm-up images included: one per worker.
  return { rps, cpuMs: (ownCpuMs() - before) / (workers * (count + 1)), bytes };
}

/** Runs `fn` against ipx serving `count` copies of `source`. */
async function withIpx<T>(
  source: Uint8Array,
  count: number,
  fn: (ipx: IpxServer) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-ipx-" });
  try {
    await linkCopies(dir, source, count);
    const ipx = await startIpx(dir);
    try {
      return await fn(ipx);
    } finally {
      await ipx.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs `fn` against our server on `backend`, in a process of its own; undefined (printed) when
 * it cannot start.
 */
async function withServer<T>(
  backend: BackendName,
  source: Uint8Array,
  count: number,
  fn: (server: ServerProcess) => Promise<T>,
): Promise<T | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-bench-" });
  try {
    await linkCopies(dir, source, count);
    let server;
    try {
      // The default worker count, as a user gets it (docs/operations.md, "Sizing").
      server = await startServerProcess(backend, dir);
    } catch (error) {
      console.log(`${backend}: skipped (${(error as Error).message})`);
      return undefined;
    }
    try {
      return await fn(server);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function median(runs: Measured[]): Measured {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return {
    ...sorted[Math.floor(sorted.length / 2)],
    peakRss: Math.max(...runs.map((r) => r.peakRss ?? 0)),
  };
}

function report(
  name: string,
  run: Measured,
  against: [string, Measured][] = [],
  quality?: number,
): void {
  const ratios = against.map(([other, base]) =>
    `  ×${(run.rps / base.rps).toFixed(2)} ${other} (CPU ×${(base.cpuMs / run.cpuMs).toFixed(2)})`
  ).join("");
  const rss = run.peakRss ? `  peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB` : "";
  const psnrText = quality === undefined ? "" : `  PSNR ${quality.toFixed(1)} dB`;
  const client = run.clientCpuMs === undefined
    ? ""
    : `  client ${run.clientCpuMs.toFixed(2)} ms CPU/req`;
  console.log(
    `${name.padEnd(22)} ${run.rps.toFixed(1).padStart(6)} req/s  ${
      run.cpuMs.toFixed(1).padStart(6)
    } ms CPU/img  ${
      (run.bytes / 1000).toFixed(1).padStart(6)
    } kB${rss}${psnrText}${client}${ratios}`,
  );
}

/** Decoded pixels of one answer, for the PSNR against the reference. */
async function answerPixels(url: string): Promise<Bitmap> {
  const response = await fetch(url.replaceAll("{i}", "0"));
  return await decodeBitmap(new Uint8Array(await response.arrayBuffer()), "jpeg");
}

/** ImageMagick's Lanczos resize of the full decode: the W1 quality reference. */
async function imageMagickReference(source: Uint8Array, size: Size): Promise<Bitmap | undefined> {
  let backend;
  try {
    backend = createMagickBackend("imagemagick", { maxSourcePixels: 1e8 });
  } catch {
    return undefined;
  }
  const canvas = await backend.decode(source, "jpeg", { allFrames: false });
  try {
    canvas.resize(size);
    return await decodeBitmap(await backend.encode(canvas, { type: "png", quality: 80 }), "png");
  } finally {
    canvas.dispose();
  }
}

/** W1: 4096x4096 JPEG → s,400x0 → jpeg,80, at 2 and 8 clients, default workers, no caches. */
async function workload1(options: WorkloadOptions): Promise<void> {
  console.log("\n## W1: 4096x4096 JPEG → s,400x0 → jpeg,80 (default workers, no caches)");
  const source = await w1Source();
  const total = options.quick ? 40 : 120;
  const rounds = options.quick ? 1 : 3;
  const recipe: Recipe = {
    engine: "sharp",
    box: { width: 400, height: 0 },
    format: "jpeg",
    quality: 80,
  };
  const reference = await imageMagickReference(source, { width: 400, height: 400 });
  const quality = new Map<string, number>();
  const score = async (name: string, url: string) => {
    if (reference && !quality.has(name)) {
      quality.set(name, psnr(await answerPixels(url), reference));
    }
  };
  const runs = new Map<string, Measured[]>();
  const add = (name: string, run: Measured | undefined) =>
    run && runs.set(name, [...(runs.get(name) ?? []), run]);
  const ourPath = "/s,400x0/jpeg,80/files/photo-{i}.jpg";
  const theirPath = "/w_400,q_80,f_jpeg/photo-{i}.jpg";
  for (let round = 0; round < rounds; round++) {
    for (const backend of options.backends) {
      await withServer(backend, source, total, async (server) => {
        await score(backend, server.url + ourPath);
        for (const clients of CLIENT_COUNTS) {
          add(`${backend}/${clients}`, await ours(server, ourPath, total, clients));
        }
      });
    }
    await withIpx(source, total, async (ipx) => {
      await score("ipx 3.1.1", ipx.url + theirPath);
      for (const clients of CLIENT_COUNTS) {
        add(`ipx 3.1.1/${clients}`, await theirs(ipx, theirPath, total, clients));
      }
    });
    for (const clients of CLIENT_COUNTS) {
      add(`bare sharp loop/${clients}`, await bare(recipe, source, total, clients));
      const margin = { ...recipe, shrinkOnLoad: "quality" as const };
      add(`bare sharp, quality/${clients}`, await bare(margin, source, total, clients));
      for (const engine of options.backends.filter(isMagick)) {
        add(
          `bare ${engine} loop/${clients}`,
          await bare({ ...recipe, engine }, source, total, clients),
        );
      }
    }
  }
  const got = (name: string) => runs.get(name) && median(runs.get(name)!);
  for (const clients of CLIENT_COUNTS) {
    console.log(`\n### ${clients} clients`);
    const ipx = got(`ipx 3.1.1/${clients}`)!;
    const loop = got(`bare sharp loop/${clients}`)!;
    report("ipx 3.1.1", ipx, [], quality.get("ipx 3.1.1"));
    report("bare sharp loop", loop, [["ipx", ipx]]);
    report("bare sharp, quality", got(`bare sharp, quality/${clients}`)!, [["ipx", ipx]]);
    for (const backend of options.backends) {
      const run = got(`${backend}/${clients}`);
      if (!run) continue;
      // The magick backends are read against their own library's bare loop, vips against
      // sharp's at the same policy (fast).
      const own = got(`bare ${backend} loop/${clients}`);
      if (own) report(`bare ${backend} loop`, own, [["ipx", ipx]]);
      const bares: [string, Measured][] = own
        ? [["own bare loop", own]]
        : backend === "vips"
        ? [["bare sharp loop", loop]]
        : [];
      report(backend, run, [["ipx", ipx], ...bares], quality.get(backend));
    }
  }
  console.log(
    `(medians of ${rounds} round(s), ranges in the docs; PSNR of one answer against ImageMagick's Lanczos resize of the full decode; ipx writes progressive JPEGs. Targets: vips ×1.2 ipx and ×0.95 the bare loop, graphicsmagick ×1.1, imagemagick ×0.9, pure ×0.45, PSNR ≥ ipx's − 0.5 dB)`,
  );
}

/** W2: a 2040x1356 photo fitted into 512x512 as JPEG q80, PNG, WebP q75 and AVIF q50. */
async function workload2(options: WorkloadOptions): Promise<void> {
  console.log("\n## W2: 2040x1356 photo → s,512x512+ (default workers, no caches)");
  const source = await photoOf(2040, 1356);
  const total = options.quick ? 20 : 60;
  const formats = [
    { name: "jpeg", ours: "jpeg,80", theirs: "f_jpeg,q_80" },
    { name: "png", ours: "png", theirs: "f_png" },
    { name: "webp", ours: "webp,75", theirs: "f_webp,q_75" },
    { name: "avif", ours: "avif,50", theirs: "f_avif,q_50" },
  ];
  for (const clients of CLIENT_COUNTS) {
    console.log(`\n### ${clients} clients`);
    const ipx = new Map<string, Measured>();
    await withIpx(source, total, async (server) => {
      for (const format of formats) {
        const path = `/s_512x512,fit_inside,${format.theirs}/photo-{i}.jpg`;
        ipx.set(format.name, await theirs(server, path, total, clients));
      }
    });
    for (const format of formats) report(`ipx ${format.name}`, ipx.get(format.name)!);
    for (const backend of options.backends) {
      await withServer(backend, source, total, async (server) => {
        for (const format of formats) {
          const path = `/s,512x512+/${format.ours}/files/photo-{i}.jpg`;
          const run = await ours(server, path, total, clients);
          report(`${backend} ${format.name}`, run, [["ipx", ipx.get(format.name)!]]);
        }
      });
    }
  }
  console.log("(target for vips: ×1.0 ipx for every format)");
}

/** Runs W1 and W2; skips them (printed) when Node cannot run ipx. */
export async function runWorkloads(options: WorkloadOptions): Promise<void> {
  try {
    await new Deno.Command("node", { args: ["--version"], stdout: "null" }).output();
  } catch (error) {
    console.log(`\nW1 and W2 against ipx skipped: ${(error as Error).message}`);
    return;
  }
  await workload1(options);
  await workload2(options);
}

if (import.meta.main) {
  const backends = (Deno.args.find((a) => a.startsWith("--backends="))?.slice(11).split(",") ??
    ["pure", "imagemagick", "graphicsmagick", "vips"]) as BackendName[];
  await runWorkloads({ quick: Deno.args.includes("--quick"), backends });
}
