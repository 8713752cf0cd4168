interface Entry {
  controller?: AbortController;
  at: number;
}

/**
 * Request deadlines with one timer per distinct timeout instead of one per request: with a
 * single timeout, deadlines expire in the order they began, so a queue and a timer for its
 * head are enough. Ending a request only forgets its controller; the timer drops ended
 * entries as it passes them. (A timer per request was a visible share of a cache hit.)
 */
export class Deadlines {
  readonly #queues = new Map<
    number,
    { entries: Entry[]; head: number; timer?: ReturnType<typeof setTimeout> }
  >();

  /**
   * Aborts `controller` with a TimeoutError after `ms` (a new one unless given: a request
   * may abort it for other causes too); `end` forgets it.
   */
  start(ms: number, controller = new AbortController()): { signal: AbortSignal; end(): void } {
    let queue = this.#queues.get(ms);
    if (!queue) {
      queue = { entries: [], head: 0 };
      this.#queues.set(ms, queue);
    }
    const entry: Entry = { controller, at: performance.now() + ms };
    queue.entries.push(entry);
    if (queue.timer === undefined) this.#schedule(ms, entry.at);
    return {
      signal: controller.signal,
      end: () => {
        entry.controller = undefined;
      },
    };
  }

  /**
   * Passes every pending deadline now (at shutdown, when the grace is over): each request
   * still running gets the answer it would get at its deadline, a 503, while the server can
   * still write it.
   */
  expireAll(): void {
    const now = new DOMException("The server is shutting down", "TimeoutError");
    for (const queue of this.#queues.values()) {
      for (let i = queue.head; i < queue.entries.length; i++) {
        queue.entries[i].controller?.abort(now);
      }
    }
  }

  /** Stops every timer (at shutdown); pending deadlines no longer fire. */
  close(): void {
    for (const queue of this.#queues.values()) clearTimeout(queue.timer);
    this.#queues.clear();
  }

  #schedule(ms: number, at: number): void {
    const queue = this.#queues.get(ms)!;
    const timer = setTimeout(() => this.#expire(ms), Math.max(0, at - performance.now()));
    // A pending deadline must not keep the process alive on its own.
    Deno.unrefTimer(timer as unknown as number);
    queue.timer = timer;
  }

  #expire(ms: number): void {
    const queue = this.#queues.get(ms)!;
    queue.timer = undefined;
    const now = performance.now();
    const { entries } = queue;
    while (queue.head < entries.length && entries[queue.head].at <= now) {
      entries[queue.head].controller?.abort(new DOMException("Request deadline", "TimeoutError"));
      queue.head++;
    }
    // Skip ended entries at the front, so the timer waits for a request still running.
    while (queue.head < entries.length && !entries[queue.head].controller) queue.head++;
    if (queue.head > 1024 && queue.head * 2 > entries.length) {
      queue.entries = entries.slice(queue.head);
      queue.head = 0;
    }
    if (queue.head < queue.entries.length) this.#schedule(ms, queue.entries[queue.head].at);
    else {
      queue.entries = [];
      queue.head = 0;
    }
  }
}
