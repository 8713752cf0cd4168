/**
 * Cooperative cancellation. `Worker.terminate()` does not stop a worker that is busy in
 * JavaScript, WebAssembly or FFI (Deno 2.9), so a job past its deadline must stop itself: the
 * pool writes the job's id into a flag in shared memory, and the job's long loops read it.
 *
 * The token is passed explicitly (in `DecodeOptions`, then held by the canvas) rather than kept
 * in module state, so a bitmap operation that is handed no token is simply not cancellable and
 * tests can cancel one job without touching any other.
 *
 * @module
 */
import { TimedOut } from "../errors.ts";

/** A job stopped because its deadline passed; the client has had its 503 already. */
export class Cancelled extends TimedOut {}

/** One worker's flag: an Int32 in shared memory holding the id of the job to stop (0: none). */
export function createCancelFlag(): Int32Array<SharedArrayBuffer> {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

/** Asks the job `job` running on the worker that reads `flag` to stop. */
export function cancelJob(flag: Int32Array<SharedArrayBuffer>, job: number): void {
  Atomics.store(flag, 0, job);
  // A worker waiting on a job process (lib/pool/job_process_runner.ts) wakes at once.
  Atomics.notify(flag, 0);
}

/**
 * What a job checks to learn whether it should stop. Holding the job's id (not a plain boolean)
 * means a late cancellation of an earlier job can never stop the next one.
 */
export class CancelToken {
  constructor(readonly flag: Int32Array, readonly job: number) {}

  get cancelled(): boolean {
    return Atomics.load(this.flag, 0) === this.job;
  }

  /**
   * Called between steps and inside long loops (an atomic load: cheap enough per row).
   *
   * @throws {Cancelled} once the pool has cancelled this job
   */
  check(): void {
    if (this.cancelled) throw new Cancelled();
  }
}

/** A token that is never cancelled, for work outside the pool (tests, tools). */
export const neverCancelled: CancelToken = new CancelToken(new Int32Array(1), -1);
