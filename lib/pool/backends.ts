import type { Backend } from "../image/backend.ts";
import type { BackendName } from "../config/config.ts";
import type { ImageLimits } from "../image/limits.ts";
import { createMagickBackend } from "../magick/backend.ts";
import { graphicsMagickInterrupter } from "../magick/interrupt.ts";
import { pureBackend } from "../pure/backend.ts";
import { plannedJobMs, type Transform } from "../jobs/transform.ts";
import { LIGHT_JOB_MS } from "../jobs/work.ts";

/**
 * Opens the configured backend in a worker (or a job process). For the magick backends this loads
 * the native library, so a missing one fails here, at start-up, with the package to install.
 * sharp (vips) is imported only when configured: its native addon and libvips are loaded into the
 * process with it. `workers` is how many workers share the library's process-wide limits;
 * `firstInProcess` says whether process-wide settings that would disturb running jobs (libvips'
 * blocked loaders) are still to be made.
 */
export async function openBackend(
  name: BackendName,
  limits: ImageLimits,
  workers: number,
  firstInProcess = true,
): Promise<Backend> {
  if (name === "pure") return pureBackend;
  if (name === "vips") {
    return (await import("../vips/backend.ts")).createVipsBackend(limits, firstInProcess);
  }
  return createMagickBackend(name, limits, workers);
}

/**
 * Whether a worker runs its jobs in a process of its own (`job_process.ts`), killed to cancel a
 * job: libvips can be stopped from inside only by sharp's `timeout`, in whole seconds from the
 * pipeline's start, so a client that leaves would otherwise keep a core busy to the job's end.
 * The others read the worker's flag in their own loops and monitors.
 */
export function runsInJobProcess(name: BackendName): boolean {
  return name === "vips";
}

/**
 * Whether the job `task` on `source` runs in its worker's job process: on a backend that has
 * one, a heavy job does; a light one (see lib/jobs/work.ts), which ends sooner than a cancelled
 * job must, runs in the worker's thread and spares the hand-over.
 */
export function jobGoesToProcess(name: BackendName, task: Transform, source: Uint8Array): boolean {
  return runsInJobProcess(name) && plannedJobMs(task, source, name) > LIGHT_JOB_MS;
}

/**
 * What the pool's own thread does while it waits for a cancelled job to stop. Most backends
 * read their worker's flag themselves; GraphicsMagick's interruption is process-wide and so is
 * driven from here (see lib/magick/interrupt.ts).
 */
export interface Interrupter {
  /** The pool has started; `close` when it stops. */
  open(): void;
  close(): void;
  /** Job `id` was cancelled and has not stopped yet. */
  interrupt(id: number): void;
  /** Job `id` has stopped (or its worker is gone). */
  forget(id: number): void;
}

const nothingToDo: Interrupter = { open() {}, close() {}, interrupt() {}, forget() {} };

/** The interrupter of a backend, opened on the pool's thread. */
export function interrupterOf(name: BackendName): Interrupter {
  return name === "graphicsmagick" ? graphicsMagickInterrupter() : nothingToDo;
}
