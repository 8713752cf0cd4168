/// <reference lib="deno.worker" />
// Runs the W1 task on one backend, `count` times, watched for cancellation or not, and answers
// when done. bench/cancel_cost.ts times it.
import type { BackendName } from "../lib/config/config.ts";
import { CancelToken, createCancelFlag, neverCancelled } from "../lib/image/cancel.ts";
import { runTransform, type Transform } from "../lib/jobs/transform.ts";
import { openBackend } from "../lib/pool/backends.ts";

interface Order {
  backend: BackendName;
  task: Transform;
  bytes: Uint8Array;
  count: number;
  watched: boolean;
}

const flag = createCancelFlag();
let job = 1;

self.onmessage = async ({ data }: MessageEvent<Order>) => {
  const backend = await openBackend(data.backend, data.task.limits, 1);
  for (let i = 0; i < data.count; i++) {
    // Watched as the pool runs a job: its own token (never cancelled here) and a deadline.
    const task = data.watched ? { ...data.task, deadline: Date.now() + 60_000 } : data.task;
    const cancel = data.watched ? new CancelToken(flag, job++) : neverCancelled;
    await runTransform(backend, task, data.bytes, cancel);
  }
  self.postMessage("done");
};
