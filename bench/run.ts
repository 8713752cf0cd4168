// `deno task bench`: the 4000x3000 JPEG → s,400x0 → jpeg,80 workload, stage by stage and
// through the real server under load, per backend. Every figure is printed next to a
// reference measured in the same run, because absolute timings on shared machines are noise.
import type { BackendName } from "../lib/config/config.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { photoLike, startTestServer } from "../tests/helpers.ts";
import { benchCacheHits, printCacheHits } from "./cache_hits.ts";
import { benchCodecCosts } from "./codec_costs.ts";
import { benchEncoders } from "./encoders.ts";
import { benchFormats } from "./formats.ts";
import { benchInfo } from "./info.ts";
import { type LoadResult, loadRun } from "./load.ts";
import { runShrinkOnLoadPolicy } from "./shrink_on_load.ts";
import { runWorkloads } from "./workloads.ts";
import { benchShared } from "./shared.ts";
import { benchCancelCost } from "./cancel_cost.ts";
import { benchLightJobs } from "./light_jobs.ts";

const quick = Deno.args.includes("--quick");
const backends = (Deno.args.find((a) => a.startsWith("--backends="))?.slice(11).split(",") ??
  ["pure", "imagemagick", "graphicsmagick", "vips"]) as BackendName[];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function time(runs: number, fn: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

console.log("Making a 4000x3000 photo-like JPEG (q90)…");
const photo = await encodeBitmap(photoLike(4000, 3000), { type: "jpeg", quality: 90 });

console.log("\n## Pure backend stages (median)");
const runs = quick ? 3 : 5;
const hint = { minSize: { width: 400, height: 300 } };
const full = await decodeBitmap(photo, "jpeg");
const scaled = await decodeBitmap(photo, "jpeg", hint);
const small = resizeBitmap(scaled, 400, 300);
const stages = {
  "decode, full size": await time(runs, () => decodeBitmap(photo, "jpeg")),
  [`decode, scaled to ${scaled.width}x${scaled.height}`]: await time(
    runs,
    () => decodeBitmap(photo, "jpeg", hint),
  ),
  "resize 4000x3000 → 400x300": await time(runs, () => resizeBitmap(full, 400, 300)),
  [`resize ${scaled.width}x${scaled.height} → 400x300`]: await time(
    runs,
    () => resizeBitmap(scaled, 400, 300),
  ),
  "encode jpeg,80": await time(runs, () => encodeBitmap(small, { type: "jpeg", quality: 80 })),
};
for (const [name, value] of Object.entries(stages)) console.log(`${name.padEnd(36)} ${ms(value)}`);

await benchEncoders(quick ? 5 : 20);
await benchCodecCosts(quick, backends);
await benchFormats(quick ? 3 : 9, backends);
await benchInfo(quick ? 3 : 7, backends);

console.log("\n## Whole requests through the server (2 workers, source and result caches off)");
const results = new Map<string, LoadResult>();
for (const backend of backends) {
  let server;
  try {
    // One copy of the photo per request, so no two requests share a result.
    const copies = Object.fromEntries(
      Array.from({ length: quick ? 8 : 24 }, (_, i) => [`photo-${i}.jpg`, photo]),
    );
    server = await startTestServer(copies, {
      backend,
      http: { workers: 2, timeout: "60s" },
      caches: { source: -1, result: 0 },
    });
  } catch (error) {
    console.log(`${backend}: skipped (${(error as Error).message})`);
    continue;
  }
  const url = `${server.url}/s,400x0/jpeg,80/files/photo-{i}.jpg`;
  try {
    for (const clients of quick ? [1, 2] : [1, 2, 8]) {
      const result = await loadRun(url, clients, quick ? 8 : 24);
      results.set(`${backend}/${clients}`, result);
      const one = results.get(`${backend}/1`)!;
      console.log(
        `${backend.padEnd(15)} ${String(clients).padStart(2)} clients: ${
          result.rps.toFixed(1).padStart(6)
        } req/s  p50 ${ms(result.p50)}  p99 ${ms(result.p99)}  CPU/req ${
          ms(result.cpuPerRequest)
        }  peak RSS ${(result.peakRss / 2 ** 20).toFixed(0)} MiB  ×${
          (result.rps / one.rps).toFixed(2)
        } of 1 client`,
      );
    }
  } finally {
    await server.close();
  }
}

console.log(
  "\n## Result-cache hits at 16 clients, against a minimal Deno.serve (the ceiling), access log on",
);
printCacheHits(await benchCacheHits(quick));

const pure = results.get("pure/2");
if (pure) {
  console.log("\n## Ratios at 2 clients");
  console.log(
    `pure vs the Go original (2.9 req/s measured on these machines): ×${
      (pure.rps / 2.9).toFixed(2)
    }`,
  );
  for (const backend of backends) {
    const result = results.get(`${backend}/2`);
    if (result) console.log(`${backend.padEnd(15)} ×${(result.rps / pure.rps).toFixed(2)} of pure`);
  }
}

await runWorkloads({ quick, backends });
await runShrinkOnLoadPolicy(quick, backends);
await benchCancelCost(quick, backends);
if (backends.includes("vips")) await benchLightJobs();
await benchShared(quick);
