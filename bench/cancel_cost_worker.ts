/// <reference lib="deno.worker" />
// Runs the W1 task on one backend, `count` times, watched for cancellation or not, and answers
// when done. bench/cancel_cost.ts times it. Watched on vips, a job the pool sends to its job
// process (lib/pool/job_process.ts) runs in one here too, so its cost is the process's hand-overs.
import type { BackendName } from "../lib/config/config.ts";
import { CancelToken, createCancelFlag, neverCancelled } from "../lib/image/cancel.ts";
import { runTransform, type Transform } from "../lib/jobs/transform.ts";
import { jobGoesToProcess, openBackend } from "../lib/pool/backends.ts";
import { JobProcessRunner } from "../lib/pool/job_process_runner.ts";

interface Order {
  backend: BackendName;
  task: Transform;
  bytes: Uint8Array;
  count: number;
  watched: boolean;
}

const flag = createCancelFlag();
let job = 1;

/** The job process, started by the first order that needs one (not timed: orders 1 and 2). */
let runner: Promise<JobProcessRunner> | undefined;

self.onmessage = async ({ data }: MessageEvent<Order>) => {
  const inProcess = data.watched && jobGoesToProcess(data.backend, data.task, data.bytes);
  const backend = inProcess ? undefined : await openBackend(data.backend, data.task.limits, 1);
  if (inProcess) runner ??= JobProcessRunner.start(data.backend, data.task.limits, 1);
  for (let i = 0; i < data.count; i++) {
    // Watched as the pool runs a job: its own token (never cancelled here) and a deadline.
    const task = data.watched ? { ...data.task, deadline: Date.now() + 60_000 } : data.task;
    const cancel = data.watched ? new CancelToken(flag, job++) : neverCancelled;
    if (backend) await runTransform(backend, task, data.bytes, cancel);
    else {
      const outcome = await (await runner!).run(task, data.bytes, cancel);
      if (outcome.type === "error") throw new Error(outcome.error.message);
    }
  }
  self.postMessage("done");
};
