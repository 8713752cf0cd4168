// How well lib/jobs/work.ts estimates a job's CPU on vips, where the estimate decides whether a
// job runs in the worker's thread (light) or in its job process (heavy, killable): each job's
// estimate beside its measured times in one thread (5 runs after one untimed), and the side it
// falls on. An estimate under its measure is worth a look; one far over only sends a job to the
// job process that could have stayed. Runs alone as `deno run -A bench/light_jobs.ts`, or from
// bench/run.ts when vips is among its backends.
import sharp from "sharp";
import { parseConfig } from "../lib/config/config.ts";
import { taskFor } from "../lib/jobs/task.ts";
import { parseChain, parseFormat } from "../lib/jobs/url.ts";
import { plannedJobMs, runTransform } from "../lib/jobs/transform.ts";
import { openBackend } from "../lib/pool/backends.ts";
import { LIGHT_JOB_MS } from "../lib/jobs/work.ts";
import { photoOf } from "./sources.ts";

const image = parseConfig({ storages: [] }, ".").image;
const context = {
  presets: new Map(),
  maxBlurSigma: 50,
  maxChain: 16,
  defaultQuality: 80,
  avifQuality: 50,
};
const pngOf = async (jpeg: Uint8Array) => new Uint8Array(await sharp(jpeg).png().toBuffer());
const progressiveOf = async (jpeg: Uint8Array) =>
  new Uint8Array(await sharp(jpeg).jpeg({ progressive: true, quality: 90 }).toBuffer());
/** The jobs' sources, by the name the table prints. */
async function makeSources(): Promise<Record<string, Uint8Array>> {
  return {
    "4096x4096 JPEG": await photoOf(4096, 4096),
    "2040x1356 JPEG": await photoOf(2040, 1356),
    "2000x1500 JPEG": await photoOf(2000, 1500),
    "1000x1000 JPEG": await photoOf(1000, 1000),
    "1000x1000 PNG": await pngOf(await photoOf(1000, 1000)),
    "2000x1500 PNG": await pngOf(await photoOf(2000, 1500)),
    "2500x2000 progressive JPEG": await progressiveOf(await photoOf(2500, 2000)),
    "2500x2000 AVIF": new Uint8Array(await sharp(await photoOf(2500, 2000)).avif().toBuffer()),
  };
}
/** [source, chain, format]: W1, W2, and jobs near the line between light and heavy. */
const jobs: [string, string, string][] = [
  ["4096x4096 JPEG", "s,400x0", "jpeg,80"],
  ["2040x1356 JPEG", "s,512x512", "jpeg,80"],
  ["2040x1356 JPEG", "s,512x512", "png"],
  ["2040x1356 JPEG", "s,512x512", "webp,75"],
  ["2040x1356 JPEG", "s,512x512", "avif,50"],
  ["1000x1000 JPEG", "s,300x300", "avif"],
  ["2000x1500 JPEG", "none", "jpeg"],
  ["2000x1500 JPEG", "none", "webp"],
  ["2000x1500 PNG", "s,300x0", "jpeg"],
  ["1000x1000 JPEG", "none", "png"],
  ["1000x1000 JPEG", "none", "webp"],
  ["1000x1000 PNG", "none", "webp"],
  ["1000x1000 JPEG", "none", "gif"],
  ["1000x1000 JPEG", "s,2000x2000", "jpeg"],
  ["1000x1000 JPEG", "s,500x500-smart", "jpeg"],
  ["1000x1000 JPEG", "b,2", "jpeg"],
  ["1000x1000 JPEG", "b,20", "jpeg"],
  ["1000x1000 JPEG", "b,50", "jpeg"],
  ["1000x1000 JPEG", "sh,10", "jpeg"],
  ["4096x4096 JPEG", "s,2000x0", "jpeg"],
  ["2500x2000 progressive JPEG", "s,100x0", "jpeg"],
  ["2500x2000 AVIF", "s,100x0", "jpeg"],
];

/** Prints each job's estimate beside its measure on vips, and the side of the line it is on. */
export async function benchLightJobs(): Promise<void> {
  const sources = await makeSources();
  const backend = await openBackend("vips", image, 1);
  await backend.warmUp?.();
  console.log(`\n## Light jobs on vips: estimate (lib/jobs/work.ts) against one thread's CPU`);
  console.log(`(light: estimated at most ${LIGHT_JOB_MS} ms, run in the worker's thread)\n`);
  console.log("| source | chain | format | estimate ms | measured ms (min–max of 5) | runs |");
  console.log("|---|---|---|---|---|---|");
  for (const [source, chain, format] of jobs) {
    const job = {
      chain: parseChain(chain, context),
      format: parseFormat(format, 80, 50),
      storage: "files",
      path: "a",
    };
    const task = taskFor(job, null, image);
    const bytes = sources[source];
    const estimate = plannedJobMs(task, bytes, "vips");
    await runTransform(backend, task, bytes);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await runTransform(backend, task, bytes);
      times.push(performance.now() - started);
    }
    const side = estimate <= LIGHT_JOB_MS ? "thread" : "job process";
    console.log(
      `| ${source} | ${chain} | ${format} | ${estimate.toFixed(0)} | ${
        Math.min(...times).toFixed(0)
      }–${Math.max(...times).toFixed(0)} | ${side} |`,
    );
  }
}

if (import.meta.main) await benchLightJobs();
