/// <reference lib="deno.worker" />
// A pool worker: decode → filters → encode, off the HTTP thread; for a backend whose native work
// only a kill can stop, a heavy job runs in a process of the worker's own (job_process.ts).
import type { Backend } from "../image/backend.ts";
import { CancelToken } from "../image/cancel.ts";
import { jobGoesToProcess, openBackend, runsInJobProcess } from "./backends.ts";
import { warmAvifEncoder } from "../image/avif.ts";
import { runTransform, type Transform } from "../jobs/transform.ts";
import { JobProcessRunner, type Outcome } from "./job_process_runner.ts";
import { failureOf, type FromWorker, type ToWorker, transferList } from "./protocol.ts";

/** Runs one job here or in the job process, and answers its outcome. */
type Run = (task: Transform, bytes: Uint8Array, cancel: CancelToken) => Promise<Outcome>;

let run: Run | undefined;

let cancelFlag: Int32Array | undefined;

function reply(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}

/** A job run in this thread: the backend reads the cancellation flag itself. */
function runHere(backend: Backend): Run {
  return async (task, bytes, cancel) => {
    try {
      return { type: "done", bytes: await runTransform(backend, task, bytes, cancel) };
    } catch (error) {
      // A cancelled job may fail in any way on its way out (a native call that was interrupted
      // reports a plain failure): the pool only needs to know it has stopped.
      if (cancel.cancelled) throw error;
      return { type: "error", ...failureOf(error) };
    }
  };
}

// A thread that ends on its own (Deno.exit, or a library's process.exit) gives the pool no
// event: this last message lets it put another in its place.
addEventListener("unload", () => reply({ type: "exit" }));

self.onmessage = async ({ data }: MessageEvent<ToWorker>) => {
  if (data.type === "init") {
    try {
      cancelFlag = data.cancel;
      const first = Atomics.load(data.opened, 0) === 0;
      const backend = await openBackend(data.backend, data.limits, data.workers, first);
      Atomics.store(data.opened, 0, 1);
      // Before "ready": no job then waits behind the encoders' compilation, and a broken
      // install fails the start rather than a request.
      await backend.warmUp?.();
      await warmAvifEncoder();
      const here = runHere(backend);
      if (runsInJobProcess(data.backend)) {
        const runner = JobProcessRunner.create(data.backend, data.limits, data.workers);
        run = (task, bytes, cancel) =>
          jobGoesToProcess(data.backend, task, bytes)
            ? runner.run(task, bytes, cancel)
            : here(task, bytes, cancel);
      } else {
        run = here;
      }
      reply({ type: "ready" });
    } catch (error) {
      reply({ type: "failed", message: (error as Error).message });
    }
    return;
  }
  const { id, task, bytes } = data;
  const cancel = new CancelToken(cancelFlag!, id);
  let outcome;
  try {
    outcome = await run!(task, bytes, cancel);
  } catch (error) {
    if (!cancel.cancelled) throw error;
    reply({ type: "cancelled", id });
    return;
  }
  if (outcome.type === "done") {
    reply({ type: "done", id, bytes: outcome.bytes }, transferList(outcome.bytes));
  } else {
    reply({ ...outcome, id });
  }
};
