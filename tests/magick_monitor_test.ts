// GraphicsMagick's progress handler is process-wide and owned by the pool's thread. A job that
// nobody cancels must not call into that thread: it did on every tick (~350 times an image,
// 20–35% of its CPU), and stalled whenever the pool's thread was busy.
import assert from "node:assert/strict";
import { graphicsMagickInterrupter } from "../lib/magick/interrupt.ts";
import { encode, photoLike } from "./helpers.ts";

const source = await encode(photoLike(1200, 1200), "png");

/**
 * Runs a GraphicsMagick job in `worker` while this thread never returns to its event loop;
 * whether it finished before `busyMs`.
 */
async function finishesWhileThisThreadIsBusy(worker: Worker, busyMs: number): Promise<boolean> {
  const done = new Int32Array(new SharedArrayBuffer(4));
  const finished = new Promise((resolve) => worker.onmessage = resolve);
  // Posted, then this thread spins: a tick that needs this thread's event loop waits.
  worker.postMessage({ bytes: source, done });
  const until = performance.now() + busyMs;
  while (performance.now() < until && Atomics.load(done, 0) === 0) {
    // busy: no callback can run on this thread meanwhile
  }
  const early = Atomics.load(done, 0) === 1;
  await finished;
  return early;
}

Deno.test("graphicsmagick: an uncancelled job never waits for the pool's thread", async () => {
  const interrupter = graphicsMagickInterrupter();
  const worker = new Worker(new URL("./fixtures/graphicsmagick_job.ts", import.meta.url), {
    type: "module",
  });
  interrupter.open();
  try {
    // A first job, waited for normally, loads the worker's modules and library.
    const warm = new Promise((resolve) => worker.onmessage = resolve);
    worker.postMessage({ bytes: source, done: new Int32Array(new SharedArrayBuffer(4)) });
    await warm;
    // Generous: the job alone takes well under a second.
    assert.ok(await finishesWhileThisThreadIsBusy(worker, 10_000), "it waited for this thread");
    // While a job is being cancelled, the callback is installed, and a job does wait for it.
    interrupter.interrupt(2 ** 30);
    assert.equal(await finishesWhileThisThreadIsBusy(worker, 2_000), false);
    interrupter.forget(2 ** 30);
    assert.ok(await finishesWhileThisThreadIsBusy(worker, 10_000), "the passing handler is back");
  } finally {
    interrupter.close();
    worker.terminate();
  }
});
