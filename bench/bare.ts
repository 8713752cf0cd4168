import type { Recipe } from "./recipes.ts";

/** What a bare loop did: images per second over all workers, and its output's size. */
export interface BareResult {
  rps: number;
  bytes: number;
}

/**
 * Runs `recipe` in `workers` Web Workers, `count` images each, all started together once
 * every worker is warm: the engine's ceiling on this machine, next to which the server's
 * figures are read.
 */
export async function bareLoop(
  recipe: Recipe,
  bytes: Uint8Array,
  workers: number,
  count: number,
): Promise<BareResult> {
  const url = new URL("./bare_worker.ts", import.meta.url);
  const started = Array.from({ length: workers }, () => new Worker(url, { type: "module" }));
  try {
    const next = (worker: Worker) =>
      new Promise<{ size: number }>((resolve, reject) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.onerror = (event) => reject(new Error(event.message));
      });
    const ready = started.map(next);
    started.forEach((worker) => worker.postMessage({ recipe, bytes, count }));
    await Promise.all(ready);
    const done = started.map(next);
    const begin = performance.now();
    started.forEach((worker) => worker.postMessage("go"));
    const [{ size }] = await Promise.all(done);
    return { rps: (workers * count * 1000) / (performance.now() - begin), bytes: size };
  } finally {
    started.forEach((worker) => worker.terminate());
  }
}
