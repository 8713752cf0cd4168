// What watching for cancellation costs: the CPU per image of W1 (4096x4096 JPEG → s,400x0 →
// jpeg,80) on each backend in a Web Worker, with the job's token, deadline and progress monitor
// (as the pool runs it) and without. For GraphicsMagick also with the pool's Deno callback as
// the process-wide handler, which is what it was on every tick before and is now only while a
// job is being cancelled. Rounds alternate, so load elsewhere on the machine hits all alike.
import type { BackendName } from "../lib/config/config.ts";
import { parseConfig } from "../lib/config/config.ts";
import { taskFor } from "../lib/jobs/task.ts";
import { parseChain } from "../lib/jobs/url.ts";
import { graphicsMagickInterrupter } from "../lib/magick/interrupt.ts";
import { w1Source } from "./sources.ts";
import { ownCpuMs } from "./process.ts";

type Mode = "off" | "on" | "on, old GraphicsMagick handler";

/** CPU per image of `count` W1 images in a fresh worker (its start and first image excluded). */
async function measure(
  backend: BackendName,
  bytes: Uint8Array,
  mode: Mode,
  count: number,
): Promise<number> {
  const image = parseConfig({ storages: [] }, ".").image;
  const chain = parseChain("s,400x0", {
    presets: new Map(),
    maxBlurSigma: 50,
    maxChain: 16,
    defaultQuality: 80,
    avifQuality: 50,
  });
  const job = { chain, format: { type: "jpeg" as const, quality: 80 }, storage: "", path: "" };
  const task = taskFor(job, null, image);
  const gm = backend === "graphicsmagick" && mode !== "off" ? graphicsMagickInterrupter() : null;
  gm?.open();
  // A cancelled job that never stops keeps the old handler, the Deno callback, installed.
  const stuck = 2 ** 30;
  if (mode === "on, old GraphicsMagick handler") gm?.interrupt(stuck);
  const worker = new Worker(new URL("./cancel_cost_worker.ts", import.meta.url), {
    type: "module",
  });
  const run = (n: number) =>
    new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage({ backend, task, bytes, count: n, watched: mode !== "off" });
    });
  try {
    await run(1);
    const before = ownCpuMs();
    await run(count);
    return (ownCpuMs() - before) / count;
  } finally {
    worker.terminate();
    gm?.forget(stuck);
    gm?.close();
  }
}

export async function benchCancelCost(quick: boolean, backends: BackendName[]): Promise<void> {
  console.log("\n## Cancellation cost: W1 CPU per image in one worker, watched vs not");
  const bytes = await w1Source();
  const rounds = quick ? 2 : 4;
  const count = quick ? 6 : 15;
  for (const backend of backends) {
    const modes: Mode[] = backend === "graphicsmagick"
      ? ["off", "on", "on, old GraphicsMagick handler"]
      : ["off", "on"];
    const runs = new Map<Mode, number[]>(modes.map((mode) => [mode, []]));
    try {
      for (let round = 0; round < rounds; round++) {
        for (const mode of modes) runs.get(mode)!.push(await measure(backend, bytes, mode, count));
      }
    } catch (error) {
      console.log(`${backend}: skipped (${(error as Error).message})`);
      continue;
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
    const off = median(runs.get("off")!);
    for (const mode of modes) {
      const values = runs.get(mode)!;
      const cpu = median(values);
      const range = `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;
      const cost = mode === "off" ? "" : `  ${((cpu / off - 1) * 100).toFixed(1)}% over off`;
      console.log(
        `${backend.padEnd(15)} ${mode.padEnd(32)} ${
          cpu.toFixed(1).padStart(6)
        } ms CPU/img (${range})${cost}`,
      );
    }
  }
}

if (import.meta.main) {
  const backends = (Deno.args.find((a) => a.startsWith("--backends="))?.slice(11).split(",") ??
    ["pure", "imagemagick", "graphicsmagick", "vips"]) as BackendName[];
  await benchCancelCost(Deno.args.includes("--quick"), backends);
}
