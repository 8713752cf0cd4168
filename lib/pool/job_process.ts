/**
 * The process a worker runs its jobs in when its backend's native work cannot be stopped from
 * inside (libvips: sharp counts its `timeout` in whole seconds from the pipeline's start and has
 * no other way in). The worker kills this process to cancel a job (`job_process_runner.ts`), so a
 * client that leaves or a deadline that passes stops the CPU at once, and a library that aborts
 * on a hostile image takes only this process with it.
 *
 * It speaks frames (`frames.ts`) on stdin and stdout: an `init`, answered `ready` or `failed`,
 * then one `job` at a time, answered `done` (the output as the frame's bytes) or `error`. It ends
 * when its stdin does (the worker, or the whole server, has gone).
 *
 * @module
 */
import type { BackendName } from "../config/config.ts";
import { neverCancelled } from "../image/cancel.ts";
import type { ImageLimits } from "../image/limits.ts";
import { runTransform, type Transform } from "../jobs/transform.ts";
import { openBackend } from "./backends.ts";
import { FrameReader, writeFrame } from "./frames.ts";
import { widenStdioPipes } from "./pipe_size.ts";
import { type Failure, failureOf } from "./protocol.ts";

/** From the worker. The job's source comes as the frame's bytes. */
export type ToJobProcess =
  | { type: "init"; backend: BackendName; limits: ImageLimits; workers: number }
  | { type: "job"; task: Transform };

/** To the worker. A `done` job's output comes as the frame's bytes. */
export type FromJobProcess =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "done" }
  | ({ type: "error" } & Failure);

/** Serves the worker on stdin and stdout until stdin ends. */
export async function serveJobs(): Promise<void> {
  // stdout carries the frames: anything a library logs goes to stderr instead.
  console.log = console.info = console.debug = console.error;
  // A terminal's Ctrl-C reaches the whole process group; the server decides when jobs end (it
  // finishes those in flight), and closes stdin then.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => {});
  }
  widenStdioPipes();
  const reader = new FrameReader(Deno.stdin.readable);
  const writer = Deno.stdout.writable.getWriter();
  const answer = (header: FromJobProcess, bytes?: Uint8Array) => writeFrame(writer, header, bytes);
  const init = (await reader.next<ToJobProcess>())?.header;
  if (init?.type !== "init") return;
  let backend;
  try {
    // Alone in its process: the process-wide settings are this one's to make.
    backend = await openBackend(init.backend, init.limits, init.workers);
    // Not the AVIF encoder (~80 ms of CPU): a job process is started again after every
    // cancelled job, and its first AVIF compiles the encoder then.
    await backend.warmUp?.();
  } catch (error) {
    await answer({ type: "failed", message: (error as Error).message });
    return;
  }
  await answer({ type: "ready" });
  let frame = await reader.next<ToJobProcess>();
  while (frame) {
    // The worker sends nothing more until the answer, so a read that ends meanwhile means the
    // server has gone: stop at once rather than finish a job nobody will read.
    const following = reader.next<ToJobProcess>();
    following.then((next) => next ?? Deno.exit(0), () => Deno.exit(0));
    if (frame.header.type === "job") {
      try {
        // Never cancelled from here: the worker ends the process instead.
        const output = await runTransform(backend, frame.header.task, frame.bytes, neverCancelled);
        await answer({ type: "done" }, output);
      } catch (error) {
        await answer({ type: "error", ...failureOf(error) });
      }
    }
    frame = await following;
  }
}

if (import.meta.main) {
  await serveJobs();
  Deno.exit(0);
}
