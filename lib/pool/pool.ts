import type { BackendName } from "../config/config.ts";
import type { ImageLimits } from "../image/limits.ts";
import { HttpError, Unavailable } from "../errors.ts";
import { buildVersion } from "./build_version.ts";
import type { Transform } from "../jobs/transform.ts";
import { type FromWorker, type ToWorker, transferList } from "./protocol.ts";

export interface PoolOptions {
  size: number;
  /** Jobs that may wait for a worker; beyond that, requests are refused at once. */
  queueLimit: number;
  backend: BackendName;
  limits: ImageLimits;
  /**
   * Called when a worker cannot be started. Job failures are not reported here: they reach the
   * caller as WorkerFailure, whose detail the server logs with the request id.
   */
  onInternalError?: (detail: string) => void;
}

/** A worker failure whose detail went to the log; the client sees only this. */
export class WorkerFailure extends HttpError {
  constructor(readonly detail: string) {
    super(500, "Internal error while processing the image");
  }
}

interface Job {
  id: number;
  task: Transform;
  bytes: Uint8Array;
  signal: AbortSignal;
  resolve(bytes: Uint8Array<ArrayBuffer>): void;
  reject(error: Error): void;
}

/**
 * A place in the pool taken before a request does any work (reading its source): `run` uses
 * it for the job, `release` gives it back when the request ends without one. Both may be
 * called in any order and more than once; the place is given back once.
 */
export interface Ticket {
  run(task: Transform, bytes: Uint8Array, signal: AbortSignal): Promise<Uint8Array<ArrayBuffer>>;
  release(): void;
}

interface Slot {
  worker: Worker;
  job?: Job;
}

const workerUrl = new URL("./worker.ts", import.meta.url);

/**
 * A fixed set of Web Workers doing the image work, with a bounded queue in front. A job whose
 * signal aborts while it runs takes its worker with it: the worker is terminated and replaced,
 * so a runaway filter never keeps a worker busy.
 */
export class WorkerPool {
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  /** A started, idle worker kept ready to replace a terminated one at once. */
  #spare?: Worker;
  #spawning = 0;
  #nextId = 1;
  /** Tickets taken and not yet used or released: requests on their way to a job. */
  #admitted = 0;
  #started = 0;
  #closed = false;

  /**
   * What makes this pool's pixels: the backend its workers really run and the version of the
   * processing code. Part of every result's identity, so neither a reload that names another
   * backend nor an upgrade can serve results made otherwise.
   */
  readonly identity: string;

  private constructor(readonly options: PoolOptions, version: string) {
    this.identity = `${options.backend}/${version}`;
  }

  /**
   * Starts every worker and waits until each has loaded its backend.
   *
   * @throws {Error} with the backend's message when a worker cannot start (missing library)
   */
  static async start(options: PoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options, await buildVersion());
    const workers = await Promise.allSettled(
      Array.from({ length: options.size }, () => pool.#spawn()),
    );
    const failed = workers.find((w) => w.status === "rejected");
    if (failed) {
      for (const w of workers) if (w.status === "fulfilled") w.value.terminate();
      throw (failed as PromiseRejectedResult).reason;
    }
    for (const w of workers) pool.#adopt((w as PromiseFulfilledResult<Worker>).value);
    pool.#fill();
    return pool;
  }

  /** Pool size, workers busy, jobs waiting and jobs ever started, for /health and metrics. */
  stats(): { workers: number; busy: number; queued: number; jobs: number } {
    const busy = this.#slots.filter((s) => s.job).length;
    return { workers: this.options.size, busy, queued: this.#queue.length, jobs: this.#started };
  }

  /**
   * Takes a place for a request before it reads its source, so a full pool costs no storage
   * read and no memory: the places are the workers plus the queue, shared by requests that
   * hold a ticket and jobs that wait or run.
   *
   * @throws {Unavailable} when every place is taken or the pool is closing
   */
  admit(): Ticket {
    if (this.#closed) throw new Unavailable("The server is shutting down");
    const taken = this.#slots.filter((s) => s.job).length + this.#queue.length + this.#admitted;
    if (taken >= this.options.size + this.options.queueLimit) {
      throw new Unavailable("The server is busy: try again shortly");
    }
    this.#admitted++;
    let held = true;
    const giveBack = () => {
      if (held) this.#admitted--;
      held = false;
    };
    return {
      run: (task, bytes, signal) => {
        giveBack();
        return this.#enqueue(task, bytes, signal);
      },
      release: giveBack,
    };
  }

  /**
   * Runs one transform without a ticket. Rejects with Unavailable when the queue is full or
   * `signal` aborts first, and with the worker's typed error when the image work fails.
   */
  run(task: Transform, bytes: Uint8Array, signal: AbortSignal): Promise<Uint8Array<ArrayBuffer>> {
    if (!this.#idleSlot() && this.#queue.length >= this.options.queueLimit) {
      return Promise.reject(new Unavailable("The server is busy: try again shortly"));
    }
    return this.#enqueue(task, bytes, signal);
  }

  #enqueue(
    task: Transform,
    bytes: Uint8Array,
    signal: AbortSignal,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (signal.aborted) return Promise.reject(timeoutError());
    if (this.#closed) return Promise.reject(new Unavailable("The server is shutting down"));
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.#nextId++, task, bytes, signal, resolve, reject };
      const onAbort = () => this.#abort(job);
      signal.addEventListener("abort", onAbort, { once: true });
      const settle = <T>(fn: (value: T) => void) => (value: T) => {
        signal.removeEventListener("abort", onAbort);
        fn(value);
      };
      job.resolve = settle(resolve);
      job.reject = settle(reject);
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /** Stops every worker; queued jobs are refused. */
  close(): void {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) {
      job.reject(new Unavailable("The server is shutting down"));
    }
    for (const slot of this.#slots.splice(0)) slot.worker.terminate();
    this.#spare?.terminate();
    this.#spare = undefined;
  }

  #idleSlot(): Slot | undefined {
    return this.#slots.find((s) => !s.job);
  }

  #dispatch(): void {
    for (let slot = this.#idleSlot(); slot && this.#queue.length; slot = this.#idleSlot()) {
      const job = this.#queue.shift()!;
      slot.job = job;
      this.#started++;
      const message: ToWorker = { type: "job", id: job.id, task: job.task, bytes: job.bytes };
      slot.worker.postMessage(message, transferList(job.bytes));
    }
  }

  #abort(job: Job): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) this.#queue.splice(queued, 1);
    const slot = this.#slots.find((s) => s.job === job);
    if (slot) this.#replace(slot);
    job.reject(timeoutError());
  }

  /** Receives a worker's answers for as long as it lives in the pool. */
  #adopt(worker: Worker): void {
    const slot: Slot = { worker };
    this.#slots.push(slot);
    worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
      const job = slot.job;
      if (!job || !("id" in data) || data.id !== job.id) return;
      slot.job = undefined;
      if (data.type === "done") job.resolve(data.bytes);
      else if (data.type === "error" && data.internal) {
        job.reject(new WorkerFailure(data.error.message));
      } else if (data.type === "error") {
        job.reject(new HttpError(data.error.status, data.error.message));
      }
      this.#dispatch();
    };
    // An uncaught exception or an out-of-memory kills only this worker and its job.
    worker.onerror = (event) => {
      event.preventDefault();
      slot.job?.reject(new WorkerFailure(`worker crashed: ${event.message}`));
      this.#replace(slot);
    };
  }

  /** Terminates a slot's worker and puts the spare in its place. */
  #replace(slot: Slot): void {
    slot.worker.terminate();
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;
    this.#slots.splice(index, 1);
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare) this.#place(spare);
    this.#fill();
  }

  /** Starts workers until every slot and the spare are taken or on their way. */
  #fill(): void {
    const wanted = this.options.size + 1;
    while (!this.#closed && this.#slots.length + this.#spawning + (this.#spare ? 1 : 0) < wanted) {
      this.#spawning++;
      this.#spawn().then(
        (worker) => {
          this.#spawning--;
          this.#place(worker);
        },
        (error) => {
          // No retry loop: the next replacement tries again.
          this.#spawning--;
          this.options.onInternalError?.(`cannot start a worker: ${error}`);
        },
      );
    }
  }

  /** A ready worker fills an empty slot first, then the spare place. */
  #place(worker: Worker): void {
    if (this.#closed) {
      worker.terminate();
    } else if (this.#slots.length < this.options.size) {
      this.#adopt(worker);
      this.#dispatch();
    } else if (!this.#spare) {
      this.#spare = worker;
    } else {
      worker.terminate();
    }
  }

  /** Starts a worker and resolves once its backend is loaded. */
  #spawn(): Promise<Worker> {
    const worker = new Worker(workerUrl, { type: "module" });
    return new Promise((resolve, reject) => {
      worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
        if (data.type === "ready") resolve(worker);
        else if (data.type === "failed") {
          worker.terminate();
          reject(new Error(data.message));
        }
      };
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        reject(new Error(event.message));
      };
      const init: ToWorker = {
        type: "init",
        backend: this.options.backend,
        limits: this.options.limits,
      };
      worker.postMessage(init);
    });
  }
}

function timeoutError(): Unavailable {
  return new Unavailable("The request timed out: try again shortly");
}
