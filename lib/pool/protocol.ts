import type { BackendName } from "../config/config.ts";
import type { ImageLimits } from "../image/limits.ts";
import type { ErrorShape } from "../errors.ts";
import type { Transform } from "../jobs/transform.ts";

/** Messages from the pool to a worker. */
export type ToWorker =
  // The limits at init bound the native libraries' own resources (magick backends).
  | { type: "init"; backend: BackendName; limits: ImageLimits }
  | { type: "job"; id: number; task: Transform; bytes: Uint8Array };

/** Messages from a worker to the pool. `internal` marks errors whose text is not public. */
export type FromWorker =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "done"; id: number; bytes: Uint8Array<ArrayBuffer> }
  | { type: "error"; id: number; error: ErrorShape; internal: boolean };

/** The buffers of `bytes` that can be moved instead of copied (shared memory is shared). */
export function transferList(bytes: Uint8Array): ArrayBuffer[] {
  return bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : [];
}
