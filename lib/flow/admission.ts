import type { Ticket, WorkerPool } from "../pool/pool.ts";

interface Shared {
  ticket: Ticket;
  /** Whether `ticket` has run a job already. */
  used: boolean;
  holders: number;
}

/**
 * Admission by request: identical requests that arrive together (same path, and for `auto`
 * the same formats `Accept` allows: `FlowContext.admissionKey`) share one place in the pool,
 * since they share one source read and one transform. So a burst of one popular URL takes one
 * place, while a full pool still refuses every new, different request before it reads
 * anything.
 */
export class Admissions {
  readonly #byKey = new Map<string, Shared>();

  constructor(readonly pool: WorkerPool) {}

  /**
   * A ticket for the request identified by `key`, shared with identical requests in flight.
   *
   * @throws {Unavailable} when the pool has no place for a new request
   */
  admit(key: string): Ticket {
    let shared = this.#byKey.get(key);
    if (!shared) {
      shared = { ticket: this.pool.admit(), used: false, holders: 0 };
      this.#byKey.set(key, shared);
    }
    const entry = shared;
    entry.holders++;
    let holding = true;
    return {
      run: (task, bytes, signal) => {
        // The shared place runs one job; a second one (after a failed first) needs its own.
        const ticket = entry.used ? this.pool.admit() : entry.ticket;
        entry.used = true;
        return ticket.run(task, bytes, signal);
      },
      release: () => {
        if (!holding) return;
        holding = false;
        if (--entry.holders > 0) return;
        entry.ticket.release();
        if (this.#byKey.get(key) === entry) this.#byKey.delete(key);
      },
    };
  }
}
