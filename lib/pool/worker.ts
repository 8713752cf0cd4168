/// <reference lib="deno.worker" />
// A pool worker: decode → filters → encode, off the HTTP thread.
import type { Backend } from "../image/backend.ts";
import { CancelToken } from "../image/cancel.ts";
import { openBackend } from "./backends.ts";
import { warmAvifEncoder } from "../image/avif.ts";
import { HttpError } from "../errors.ts";
import { runTransform } from "../jobs/transform.ts";
import { type FromWorker, type ToWorker, transferList } from "./protocol.ts";

let backend: Backend | undefined;
let cancelFlag: Int32Array | undefined;

function reply(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}

// A thread that ends on its own (Deno.exit, or a library's process.exit) gives the pool no
// event: this last message lets it put another in its place.
addEventListener("unload", () => reply({ type: "exit" }));

self.onmessage = async ({ data }: MessageEvent<ToWorker>) => {
  if (data.type === "init") {
    try {
      const first = Atomics.load(data.opened, 0) === 0;
      backend = await openBackend(data.backend, data.limits, data.workers, first);
      Atomics.store(data.opened, 0, 1);
      cancelFlag = data.cancel;
      // Before "ready": no job then waits behind the encoders' compilation, and a broken
      // install fails the start rather than a request.
      await backend.warmUp?.();
      await warmAvifEncoder();
      reply({ type: "ready" });
    } catch (error) {
      reply({ type: "failed", message: (error as Error).message });
    }
    return;
  }
  const { id, task, bytes } = data;
  const cancel = new CancelToken(cancelFlag!, id);
  try {
    const output = await runTransform(backend!, task, bytes, cancel);
    reply({ type: "done", id, bytes: output }, transferList(output));
  } catch (error) {
    // A cancelled job may fail in any way on its way out (a native call that was interrupted
    // reports a plain failure): the pool only needs to know it has stopped.
    if (cancel.cancelled) {
      reply({ type: "cancelled", id });
      return;
    }
    const known = error instanceof HttpError;
    const message = known ? error.message : String((error as Error)?.stack ?? error);
    reply({
      type: "error",
      id,
      error: { status: known ? error.status : 500, message },
      internal: !known,
    });
  }
};
