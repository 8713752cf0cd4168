import type { BackendName } from "../config/config.ts";
import type { ImageLimits } from "../image/limits.ts";
import { type ErrorShape, HttpError } from "../errors.ts";
import type { Transform } from "../jobs/transform.ts";

/** Messages from the pool to a worker. */
export type ToWorker =
  // The limits at init bound the native libraries' own resources (magick backends); `workers`
  // is how many workers may use the process-wide ones at once (the pool's, and one replaced). `cancel` is the worker's cancellation
  // flag (see lib/image/cancel.ts), shared with the pool.
  | {
    type: "init";
    backend: BackendName;
    limits: ImageLimits;
    workers: number;
    cancel: Int32Array<SharedArrayBuffer>;
    /**
     * 0 until a worker of this process has opened its backend, then 1: process-wide library
     * settings are made by the first one only (see `openBackend`).
     */
    opened: Int32Array<SharedArrayBuffer>;
  }
  | { type: "job"; id: number; task: Transform; bytes: Uint8Array };

/**
 * Messages from a worker to the pool. `internal` marks errors whose text is not public.
 * `cancelled` answers a job that stopped because the pool cancelled it. `exit` is the
 * worker's last word when its thread ends on its own (a library calling `process.exit`).
 */
export type FromWorker =
  | { type: "ready" }
  | { type: "exit" }
  | { type: "failed"; message: string }
  | { type: "done"; id: number; bytes: Uint8Array<ArrayBuffer> }
  | { type: "cancelled"; id: number }
  | { type: "error"; id: number; error: ErrorShape; internal: boolean };

/** The buffers of `bytes` that can be moved instead of copied (shared memory is shared). */
export function transferList(bytes: Uint8Array): ArrayBuffer[] {
  return bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : [];
}

/** How a job that failed is reported: a known error's status and public text, else a 500. */
export interface Failure {
  error: ErrorShape;
  /** The text is a stack or a library's message, for the log only. */
  internal: boolean;
}

/** The failure that `error`, thrown by a job, is reported as. */
export function failureOf(error: unknown): Failure {
  if (error instanceof HttpError) {
    return { error: { status: error.status, message: error.message }, internal: false };
  }
  return {
    error: { status: 500, message: String((error as Error)?.stack ?? error) },
    internal: true,
  };
}
