import type { Backend } from "../image/backend.ts";
import type { BackendName } from "../config/config.ts";
import type { ImageLimits } from "../image/limits.ts";
import { createMagickBackend } from "../magick/backend.ts";
import { graphicsMagickInterrupter } from "../magick/interrupt.ts";
import { pureBackend } from "../pure/backend.ts";

/**
 * Opens the configured backend in a worker. For the magick backends this loads the native library, so a
 * missing one fails here, at start-up, with the package to install. sharp (vips) is imported
 * only when configured: its native addon and libvips are loaded into the process with it.
 * `workers` is how many workers share the library's process-wide limits; `firstInProcess` says
 * whether process-wide settings that would disturb running jobs (libvips' blocked loaders) are
 * still to be made.
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
