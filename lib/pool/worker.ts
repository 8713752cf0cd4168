/// <reference lib="deno.worker" />
// A pool worker: decode → filters → encode, off the HTTP thread.
import type { Backend } from "../image/backend.ts";
import { openBackend } from "./backends.ts";
import { HttpError } from "../errors.ts";
import { runTransform } from "../jobs/transform.ts";
import { type FromWorker, type ToWorker, transferList } from "./protocol.ts";

let backend: Backend | undefined;

function reply(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}

self.onmessage = async ({ data }: MessageEvent<ToWorker>) => {
  if (data.type === "init") {
    try {
      backend = openBackend(data.backend, data.limits);
      reply({ type: "ready" });
      // Not awaited, so the worker takes jobs at once; a job meanwhile waits for the same
      // compilation rather than starting its own, and one that fails reports the reason.
      backend.warmUp?.().catch(() => {});
    } catch (error) {
      reply({ type: "failed", message: (error as Error).message });
    }
    return;
  }
  const { id, task, bytes } = data;
  try {
    const output = await runTransform(backend!, task, bytes);
    reply({ type: "done", id, bytes: output }, transferList(output));
  } catch (error) {
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
