import { TimedOut } from "../errors.ts";

interface Flight<T> {
  result: Promise<T>;
  /** Aborts the shared call; fired when its last waiter has gone. */
  controller: AbortController;
  waiters: number;
}

/** What a waiter learns about the call it joined. */
export interface Joined<T> {
  result: Promise<T>;
  /** True for the caller whose arrival started the shared call. */
  started: boolean;
}

/**
 * Runs one call per key at a time: callers that arrive while a call for their key is in
 * flight share its result instead of starting their own.
 *
 * The shared call runs under a signal of its own, not under its first caller's: each waiter
 * brings its own signal (its deadline, its client) and, when that aborts, leaves with a 503
 * while the others keep waiting; the call is aborted only when its last waiter has gone. So one impatient caller
 * never fails the others, and nobody's abort turns into someone else's error.
 */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Flight<T>>();

  /**
   * Joins the call for `key`, starting it with `fn` when none runs.
   *
   * @throws {TimedOut} (through the promise) when `signal` aborts before the call ends
   */
  join(key: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Joined<T> {
    if (signal.aborted) return { result: Promise.reject(new TimedOut()), started: false };
    let flight = this.#inFlight.get(key);
    const started = !flight;
    if (!flight) {
      const controller = new AbortController();
      const created: Flight<T> = { controller, waiters: 0, result: Promise.resolve() as never };
      created.result = fn(controller.signal).finally(() => {
        if (this.#inFlight.get(key) === created) this.#inFlight.delete(key);
      });
      // The last waiter may have left already; nobody else is owed this rejection.
      created.result.catch(() => {});
      this.#inFlight.set(key, created);
      flight = created;
    }
    return { result: this.#wait(key, flight, signal), started };
  }

  /** Waits for `flight` until `signal` aborts; the last waiter to leave aborts the call. */
  #wait(key: string, flight: Flight<T>, signal: AbortSignal): Promise<T> {
    flight.waiters++;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    let waiting = true;
    const leave = () => {
      waiting = false;
      signal.removeEventListener("abort", onAbort);
      flight.waiters--;
    };
    const onAbort = () => {
      leave();
      reject(new TimedOut());
      if (flight.waiters > 0) return;
      flight.controller.abort(new DOMException("No caller is waiting any more", "AbortError"));
      if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    flight.result.then(
      (value) => {
        if (!waiting) return;
        leave();
        resolve(value);
      },
      (error) => {
        if (!waiting) return;
        leave();
        // The call failed because its own signal aborted: that is time, never a 500.
        reject(flight.controller.signal.aborted ? new TimedOut() : error);
      },
    );
    return promise;
  }
}
