// W1 and W2 of issue 14, through the real server on each backend, against ipx 3.1.1 (Node +
// sharp, in its own process) and against the engine's bare loop, all in the same run: absolute
// figures on a shared 2-core machine are noise, ratios within one run much less so. CPU time
// per image is printed too: on a loaded machine it is the fairer measure, since a process with
// more threads (ipx) takes a larger share of the cores.
import { join } from "node:path";
import { cpuUsage } from "node:process";
import sharp from "sharp";
import type { BackendName } from "../lib/config/config.ts";
import { bareLoop } from "./bare.ts";
import { type IpxServer, startIpx } from "./ipx.ts";
import { loadRun } from "./load.ts";
import type { Recipe } from "./recipes.ts";
import { type ServerProcess, startServerProcess } from "./server_process.ts";

export interface WorkloadOptions {
  quick: boolean;
  backends: BackendName[];
}

const CLIENTS = 2;
const WORKERS = 2;
const MiB = 2 ** 20;

/** What one contender measured. */
interface Measured {
  rps: number;
  /** CPU time per image of the process doing the work, in ms. */
  cpuMs: number;
  bytes: number;
  peakRss?: number;
}

function isMagick(backend: BackendName): backend is "imagemagick" | "graphicsmagick" {
  return backend === "imagemagick" || backend === "graphicsmagick";
}

function processCpuMs(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

/** One source served under `count` names (hard links), so no two requests share a result. */
async function linkCopies(dir: string, bytes: Uint8Array, count: number): Promise<void> {
  const first = join(dir, "photo-0.jpg");
  await Deno.writeFile(first, bytes);
  for (let i = 1; i < count; i++) await Deno.link(first, join(dir, `photo-${i}.jpg`));
}

/** Bytes of one answer, fetched once outside the timing. */
async function answerSize(url: string): Promise<number> {
  const response = await fetch(url.replaceAll("{i}", "0"));
  const body = await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
  return body.byteLength;
}

/** Load on our server, whose CPU time and peak memory are read from its process. */
async function ours(server: ServerProcess, path: string, total: number): Promise<Measured> {
  const url = `${server.url}${path}`;
  const bytes = await answerSize(url);
  const before = server.cpuMs();
  const { rps } = await loadRun(url, CLIENTS, total);
  const cpuMs = (server.cpuMs() - before) / (total + CLIENTS);
  return { rps, cpuMs, bytes, peakRss: server.peakRss() };
}

/** Load on ipx, whose CPU time is read from its process. */
async function theirs(ipx: IpxServer, path: string, total: number): Promise<Measured> {
  const url = `${ipx.url}${path}`;
  const bytes = await answerSize(url);
  const before = ipx.cpuMs();
  const { rps } = await loadRun(url, CLIENTS, total);
  return { rps, cpuMs: (ipx.cpuMs() - before) / (total + CLIENTS), bytes };
}

async function bare(recipe: Recipe, source: Uint8Array, total: number): Promise<Measured> {
  const count = Math.ceil(total / WORKERS);
  const before = processCpuMs();
  const { rps, bytes } = await bareLoop(recipe, source, WORKERS, count);
  // Warm-up images included: one per worker.
  return { rps, cpuMs: (processCpuMs() - before) / (WORKERS * (count + 1)), bytes };
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
      server = await startServerProcess(backend, dir, WORKERS);
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

function report(name: string, run: Measured, against: [string, Measured][] = []): void {
  const ratios = against.map(([other, base]) =>
    `  ×${(run.rps / base.rps).toFixed(2)} ${other} (CPU ×${(base.cpuMs / run.cpuMs).toFixed(2)})`
  ).join("");
  const rss = run.peakRss ? `  peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB` : "";
  console.log(
    `${name.padEnd(22)} ${run.rps.toFixed(1).padStart(6)} req/s  ${
      run.cpuMs.toFixed(1).padStart(6)
    } ms CPU/img  ${(run.bytes / 1000).toFixed(1).padStart(6)} kB${rss}${ratios}`,
  );
}

/** A photo (the example, resampled) of this size, as a q90 JPEG. */
async function photoOf(width: number, height: number): Promise<Uint8Array> {
  const photo = await Deno.readFile(new URL("../examples/photo.jpg", import.meta.url));
  const resized = sharp(photo).resize(width, height, { fit: "fill" });
  return new Uint8Array(await resized.jpeg({ quality: 90 }).toBuffer());
}

/** W1: 4096x4096 JPEG → s,400x0 → jpeg,80, 2 clients, 2 workers, no caches. */
async function workload1(options: WorkloadOptions): Promise<void> {
  console.log("\n## W1: 4096x4096 JPEG → s,400x0 → jpeg,80 (2 clients, 2 workers, no caches)");
  const source = await photoOf(4096, 4096);
  const total = options.quick ? 40 : 120;
  const rounds = options.quick ? 1 : 3;
  const recipe: Recipe = {
    engine: "sharp",
    box: { width: 400, height: 0 },
    format: "jpeg",
    quality: 80,
  };
  const runs = new Map<string, Measured[]>();
  const add = (name: string, run: Measured | undefined) =>
    run && runs.set(name, [...(runs.get(name) ?? []), run]);
  for (let round = 0; round < rounds; round++) {
    for (const backend of options.backends) {
      add(
        backend,
        await withServer(
          backend,
          source,
          total,
          (server) => ours(server, "/s,400x0/jpeg,80/files/photo-{i}.jpg", total),
        ),
      );
    }
    add(
      "ipx 3.1.1",
      await withIpx(source, total, (ipx) => theirs(ipx, "/w_400,q_80,f_jpeg/photo-{i}.jpg", total)),
    );
    add("bare sharp loop", await bare(recipe, source, total));
    add("bare sharp, our margin", await bare({ ...recipe, asOurs: true }, source, total));
    for (const engine of options.backends.filter(isMagick)) {
      add(`bare ${engine} loop`, await bare({ ...recipe, engine }, source, total));
    }
  }
  const ipx = median(runs.get("ipx 3.1.1")!);
  const loop = median(runs.get("bare sharp loop")!);
  const equal = median(runs.get("bare sharp, our margin")!);
  report("ipx 3.1.1", ipx);
  report("bare sharp loop", loop);
  report("bare sharp, our margin", equal);
  for (const backend of options.backends) {
    const run = runs.get(backend);
    if (!run) continue;
    // The magick backends are read against their own library's bare loop.
    const own = runs.get(`bare ${backend} loop`);
    if (own) report(`bare ${backend} loop`, median(own));
    const bares: [string, Measured][] = own
      ? [["own bare loop", median(own)]]
      : [["bare loop", loop], ["same margin", equal]];
    report(backend, median(run), [["ipx", ipx], ...bares]);
  }
  console.log(
    `(medians of ${rounds} round(s); ipx writes progressive JPEGs; targets for vips: ×1.5 ipx, ×0.85 the bare loop, peak RSS < 300 MiB)`,
  );
}

/** W2: a 2040x1356 photo fitted into 512x512 as JPEG q80, PNG and WebP q75, 2 clients. */
async function workload2(options: WorkloadOptions): Promise<void> {
  console.log("\n## W2: 2040x1356 photo → s,512x512+ (2 clients, 2 workers, no caches)");
  const source = await photoOf(2040, 1356);
  const total = options.quick ? 20 : 60;
  const formats = [
    { name: "jpeg", ours: "jpeg,80", theirs: "f_jpeg,q_80" },
    { name: "png", ours: "png", theirs: "f_png" },
    { name: "webp", ours: "webp,75", theirs: "f_webp,q_75" },
  ];
  const ipx = new Map<string, Measured>();
  await withIpx(source, total, async (server) => {
    for (const format of formats) {
      const path = `/s_512x512,fit_inside,${format.theirs}/photo-{i}.jpg`;
      ipx.set(format.name, await theirs(server, path, total));
    }
  });
  for (const format of formats) report(`ipx ${format.name}`, ipx.get(format.name)!);
  for (const backend of options.backends) {
    await withServer(backend, source, total, async (server) => {
      for (const format of formats) {
        const path = `/s,512x512+/${format.ours}/files/photo-{i}.jpg`;
        const run = await ours(server, path, total);
        report(`${backend} ${format.name}`, run, [["ipx", ipx.get(format.name)!]]);
      }
    });
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
