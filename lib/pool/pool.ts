import type { BackendName } from "../config/config.ts";
import { cancelJob, createCancelFlag } from "../image/cancel.ts";
import type { ImageLimits } from "../image/limits.ts";
import { HttpError, TimedOut, Unavailable } from "../errors.ts";
import { buildVersion } from "./build_version.ts";
import type { Transform } from "../jobs/transform.ts";
import { type Interrupter, interrupterOf } from "./backends.ts";
import { type FromWorker, type ToWorker, transferList } from "./protocol.ts";

export interface PoolOptions {
  size: number;
  /** Jobs that may wait for a worker; beyond that, requests are refused at once. */
  queueLimit: number;
  backend: BackendName;
  limits: ImageLimits;
  /**
   * Called when a worker cannot be started, ends on its own or does not stop in time. Job
   * failures are not reported here: they reach the caller as WorkerFailure, whose detail the
   * server logs with the request id.
   */
  onInternalError?: (detail: string) => void;
  /** How long a cancelled job may take to stop before its worker counts as stuck; 2 s. */
  graceMs?: number;
  /**
   * How long a cancelled job may take to stop before the spare takes its worker's place; 100
   * ms. A job that checks its flag stops well within it; one that has not is inside a call
   * nothing can interrupt.
   */
  replaceAfterMs?: number;
  /** The worker module; only tests change it (to one that ignores cancellation). */
  workerUrl?: URL;
}

/** A worker failure whose detail went to the log; the client sees only this. */
export class WorkerFailure extends HttpError {
  constructor(readonly detail: string) {
    super(500, "Internal error while processing the image");
  }
}

/** A transform waiting for, or running on, a worker. */
interface QueuedJob {
  id: number;
  task: Transform;
  bytes: Uint8Array;
  signal: AbortSignal;
  /** Settles the caller's promise; later calls do nothing. */
  resolve(bytes: Uint8Array<ArrayBuffer>): void;
  reject(error: Error): void;
}

/** A worker that has loaded its backend, and its cancellation flag (lib/image/cancel.ts). */
interface Started {
  worker: Worker;
  flag: Int32Array<SharedArrayBuffer>;
}

interface Slot extends Started {
  /** The job the worker runs, until the worker answers it, even after it was cancelled. */
  job?: QueuedJob;
  /**
   * Set while the job was cancelled and the worker has not answered yet: `overdue` past
   * `replaceAfterMs`, `stuck` past `graceMs`.
   */
  stopping?: { timers: ReturnType<typeof setTimeout>[]; overdue: boolean; stuck: boolean };
}

/**
 * A request's place in the pool, taken before its source is read, so that a full pool costs
 * a refused request no storage read and no memory. Call `run` once with the source, or
 * `release` when the request ends without running (cache hit, 304, error); both may be called,
 * `release` after `run` does nothing.
 */
export interface Ticket {
  /**
   * Runs one transform in this place. Rejects with Unavailable when `signal` aborts first (the
   * job is then cancelled), and with the worker's typed error when the work fails. The signal
   * is the job's own, not necessarily its request's: a shared job stops when its last waiter
   * has gone.
   */
  run(task: Transform, bytes: Uint8Array, signal: AbortSignal): Promise<Uint8Array<ArrayBuffer>>;
  release(): void;
}

const defaultWorkerUrl = new URL("./worker.ts", import.meta.url);
const DEFAULT_GRACE_MS = 2000;
const DEFAULT_REPLACE_AFTER_MS = 100;
/**
 * After a worker fails to start, the next start waits this long, doubling with each failure
 * in a row up to MAX_RESTART_DELAY_MS: a broken install or an exhausted machine is not hammered,
 * and a passing problem heals within seconds.
 */
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 10_000;

/** Job ids are unique in the process: GraphicsMagick's interrupter is process-wide. */
let lastJobId = 0;

/**
 * Set once a worker of this process has opened its backend (see `openBackend`): one flag for
 * every pool, since the settings it guards are the process's.
 */
const backendOpened = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));

/**
 * A fixed set of Web Workers doing the image work, with a bounded queue in front.
 *
 * A job whose signal aborts while it runs is cancelled: its caller gets Unavailable at once,
 * and the worker's shared flag asks the job to stop (see lib/image/cancel.ts). A worker that
 * has not answered `replaceAfterMs` later is inside a call nothing can interrupt (a
 * WebAssembly decode, a native library call, where terminating the thread is unsafe): the
 * warm spare takes its place, so the jobs behind it run, and the replaced thread becomes the
 * spare as soon as it answers. There is one such thread at most, and no spare meanwhile, so no
 * more than `size` + 1 threads ever exist; a second worker that cannot stop keeps its place until
 * it answers. A worker that has not answered `graceMs` after the cancellation counts as stuck
 * (see `stats`). A worker that crashes or exits fails its job alone and is replaced by the warm
 * spare; a new spare is started, again and again with a growing delay while starts fail.
 */
export class WorkerPool {
  readonly #slots: Slot[] = [];
  readonly #queue: QueuedJob[] = [];
  /** A started, idle worker kept ready to replace a lost or stopping one at once. */
  #spare?: Started;
  /** A worker the spare replaced while it finishes a cancelled job's call. */
  #replaced?: Slot;
  #spawning = 0;
  /** The wait before the next start after starts failed in a row (0: the last one worked). */
  #restartDelay = 0;
  #restartTimer?: ReturnType<typeof setTimeout>;
  /** Tickets taken and not released: requests reading their source, queued or running. */
  #admitted = 0;
  #started = 0;
  #closed = false;
  readonly #interrupter: Interrupter;
  readonly #graceMs: number;
  readonly #replaceAfterMs: number;

  /**
   * What makes this pool's pixels: the backend its workers really run and the version of the
   * processing code. Part of every result's identity, so neither a reload that names another
   * backend nor an upgrade can serve results made otherwise.
   */
  readonly identity: string;

  private constructor(readonly options: PoolOptions, version: string) {
    this.identity = `${options.backend}/${version}`;
    this.#interrupter = interrupterOf(options.backend);
    this.#graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.#replaceAfterMs = options.replaceAfterMs ?? DEFAULT_REPLACE_AFTER_MS;
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
      for (const w of workers) if (w.status === "fulfilled") w.value.worker.terminate();
      throw (failed as PromiseRejectedResult).reason;
    }
    for (const w of workers) pool.#adopt((w as PromiseFulfilledResult<Started>).value);
    pool.#interrupter.open();
    pool.#fill();
    return pool;
  }

  /**
   * For /health and metrics: `workers`, the configured pool size; `live`, workers started and
   * in their place (fewer while a lost one's replacement starts); `available`, live workers
   * that can take jobs (not stuck); `spare`, 1 while a started worker waits to replace one
   * that is lost or stopping; `replaced`, 1 while a worker the spare replaced finishes its
   * call; `busy`, workers doing image work (`draining`, `stuck` and the replaced one included);
   * `draining`, workers still running a job that was cancelled less than `graceMs` ago;
   * `stuck`, those running one cancelled longer ago; jobs waiting and jobs ever started.
   */
  stats(): {
    workers: number;
    live: number;
    available: number;
    spare: number;
    replaced: number;
    busy: number;
    draining: number;
    stuck: number;
    queued: number;
    jobs: number;
  } {
    const threads = this.#replaced ? [...this.#slots, this.#replaced] : this.#slots;
    const stopping = threads.filter((s) => s.stopping);
    const stuck = stopping.filter((s) => s.stopping!.stuck).length;
    const stuckInPlace = this.#slots.filter((s) => s.stopping?.stuck).length;
    return {
      workers: this.options.size,
      live: this.#slots.length,
      available: this.#slots.length - stuckInPlace,
      spare: this.#spare ? 1 : 0,
      replaced: this.#replaced ? 1 : 0,
      busy: threads.filter((s) => s.job).length,
      draining: stopping.length - stuck,
      stuck,
      queued: this.#queue.length,
      jobs: this.#started,
    };
  }

  /**
   * Takes a place for one request, before any work: call it before reading the source. It
   * counts against workers + queue together with the requests already admitted (reading their
   * source, queued or running) and the workers still stopping a cancelled job in their place.
   *
   * @throws {Unavailable} at once when the pool is full or closed
   */
  admit(): Ticket {
    if (this.#closed) throw new Unavailable("The server is shutting down");
    const orphans = this.#slots.filter((s) => s.stopping).length;
    if (this.#admitted + orphans >= this.options.size + this.options.queueLimit) {
      throw new Unavailable("The server is busy: try again shortly");
    }
    this.#admitted++;
    let held = true;
    let ran = false;
    const release = () => {
      if (held) this.#admitted--;
      held = false;
    };
    return {
      run: (task, bytes, signal) => {
        if (ran || !held) return Promise.reject(new Error("A pool ticket runs one job"));
        ran = true;
        return this.#enqueue(task, bytes, signal).finally(release);
      },
      release: () => {
        if (!ran) release();
      },
    };
  }

  /**
   * Admits and runs one transform: `admit().run(task, bytes, signal)`, for callers that already
   * hold the source.
   */
  run(task: Transform, bytes: Uint8Array, signal: AbortSignal): Promise<Uint8Array<ArrayBuffer>> {
    if (signal.aborted) return Promise.reject(new TimedOut());
    try {
      return this.admit().run(task, bytes, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Stops every worker; queued jobs are refused. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of this.#queue.splice(0)) {
      job.reject(new Unavailable("The server is shutting down"));
    }
    const replaced = this.#replaced ? [this.#replaced] : [];
    this.#replaced = undefined;
    for (const slot of [...this.#slots.splice(0), ...replaced]) {
      const { job } = slot;
      if (!job) {
        this.#retire(slot);
        continue;
      }
      // Terminating a worker inside a native call would free the progress callbacks the
      // library still calls: stop its job, and end the worker once it has answered.
      cancelJob(slot.flag, job.id);
      job.reject(new Unavailable("The server is shutting down"));
      slot.worker.onmessage = () => this.#retire(slot);
    }
    this.#spare?.worker.terminate();
    this.#spare = undefined;
    clearTimeout(this.#restartTimer);
    this.#interrupter.close();
  }

  #enqueue(task: Transform, bytes: Uint8Array, signal: AbortSignal) {
    if (signal.aborted) return Promise.reject(new TimedOut());
    if (this.#closed) return Promise.reject(new Unavailable("The server is shutting down"));
    return new Promise<Uint8Array<ArrayBuffer>>((resolve, reject) => {
      const job: QueuedJob = { id: ++lastJobId, task, bytes, signal, resolve, reject };
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

  #idleSlot(): Slot | undefined {
    return this.#slots.find((s) => !s.job);
  }

  #dispatch(): void {
    for (let slot = this.#idleSlot(); slot && this.#queue.length; slot = this.#idleSlot()) {
      const job = this.#queue.shift()!;
      slot.job = job;
      this.#started++;
      const message: ToWorker = { type: "job", id: job.id, task: job.task, bytes: job.bytes };
      try {
        slot.worker.postMessage(message, transferList(job.bytes));
      } catch (error) {
        // Nothing reached the worker (a task that cannot be cloned): free the slot, fail the
        // job alone.
        slot.job = undefined;
        job.reject(new WorkerFailure(`cannot post the job to a worker: ${error}`));
      }
    }
  }

  /** The caller's deadline passed: answer it now, and ask the worker to stop the job. */
  #abort(job: QueuedJob): void {
    job.reject(new TimedOut());
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      return;
    }
    const slot = this.#slots.find((s) => s.job === job);
    if (!slot || slot.stopping) return;
    cancelJob(slot.flag, job.id);
    this.#interrupter.interrupt(job.id);
    const stopping: NonNullable<Slot["stopping"]> = { overdue: false, stuck: false, timers: [] };
    stopping.timers.push(
      setTimeout(() => {
        stopping.overdue = true;
        this.#replaceOverdue();
      }, this.#replaceAfterMs),
      setTimeout(() => {
        stopping.stuck = true;
        this.options.onInternalError?.(
          `a worker has not stopped ${this.#graceMs} ms after its job was cancelled`,
        );
      }, this.#graceMs),
    );
    slot.stopping = stopping;
  }

  /**
   * Puts the spare in the place of a worker whose cancelled job is overdue, when there is a
   * spare and no other replaced worker. The replaced one is not terminated (a native library
   * may be inside a call that would then use freed memory): it becomes the spare once it
   * answers.
   */
  #replaceOverdue(): void {
    if (this.#closed || this.#replaced || !this.#spare) return;
    const slot = this.#slots.find((s) => s.stopping?.overdue);
    if (!slot) return;
    this.#slots.splice(this.#slots.indexOf(slot), 1);
    this.#replaced = slot;
    const spare = this.#spare;
    this.#spare = undefined;
    this.#adopt(spare);
    this.#dispatch();
  }

  /**
   * The replaced worker has answered: its call has returned and its job has stopped, so it
   * becomes the spare. Ending its thread and starting another would only add the start's CPU
   * and, for a moment while the old thread is torn down, one thread more than `size` + 1.
   */
  #endReplaced(): void {
    const slot = this.#replaced;
    if (!slot) return;
    this.#replaced = undefined;
    this.#finish(slot);
    this.#place({ worker: slot.worker, flag: slot.flag });
  }

  /** The replaced worker's thread has ended on its own: another takes the spare's place. */
  #loseReplaced(): void {
    const slot = this.#replaced;
    if (!slot) return;
    this.#replaced = undefined;
    this.#retire(slot);
    this.#fill();
  }

  /** The slot's job has ended one way or another: the slot is free again. */
  #finish(slot: Slot): void {
    if (slot.stopping) {
      for (const timer of slot.stopping.timers) clearTimeout(timer);
      slot.stopping = undefined;
    }
    if (slot.job) this.#interrupter.forget(slot.job.id);
    slot.job = undefined;
  }

  /** Receives a worker's answers for as long as it lives in the pool. */
  #adopt({ worker, flag }: Started): void {
    const slot: Slot = { worker, flag };
    this.#slots.push(slot);
    worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
      if (data.type === "exit") return this.#lose(slot, "exited");
      const job = slot.job;
      if (!job || !("id" in data) || data.id !== job.id) return;
      this.#finish(slot);
      if (data.type === "done") job.resolve(data.bytes);
      else if (data.type === "cancelled") job.reject(new TimedOut());
      else if (data.type === "error" && data.internal) {
        job.reject(new WorkerFailure(data.error.message));
      } else if (data.type === "error") {
        job.reject(new HttpError(data.error.status, data.error.message));
      }
      if (slot === this.#replaced) this.#endReplaced();
      else this.#dispatch();
    };
    // An uncaught exception or an out-of-memory kills only this worker and its job; its thread
    // has ended, so the spare may take its place.
    worker.onerror = (event) => {
      event.preventDefault();
      this.#lose(slot, `crashed: ${event.message}`);
    };
  }

  /** A slot's thread has ended on its own: its job fails alone, another takes its place. */
  #lose(slot: Slot, how: string): void {
    if (slot === this.#replaced) return this.#loseReplaced();
    if (!this.#slots.includes(slot)) return;
    this.options.onInternalError?.(`a worker ${how}; replacing it`);
    slot.job?.reject(new WorkerFailure(`worker ${how}`));
    this.#replace(slot);
  }

  /** Ends a slot: its job's bookkeeping, then its worker. */
  #retire(slot: Slot): void {
    this.#finish(slot);
    slot.worker.terminate();
  }

  /** Retires a crashed slot's worker and puts the spare in its place. */
  #replace(slot: Slot): void {
    this.#retire(slot);
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;
    this.#slots.splice(index, 1);
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare) this.#place(spare);
    this.#fill();
  }

  /**
   * Starts workers until every slot and the spare are taken or on their way (a replaced
   * worker still finishing its call holds the spare's place); after a failed start, not before
   * the restart delay has passed.
   */
  #fill(): void {
    if (this.#restartTimer !== undefined) return;
    const wanted = this.options.size + 1;
    const threads = () =>
      this.#slots.length + this.#spawning + (this.#spare ? 1 : 0) + (this.#replaced ? 1 : 0);
    while (!this.#closed && threads() < wanted) {
      this.#spawning++;
      this.#spawn().then(
        (started) => {
          this.#spawning--;
          this.#restartDelay = 0;
          this.#place(started);
        },
        (error) => {
          this.#spawning--;
          this.#fillLater(error);
        },
      );
    }
  }

  /** A start failed: try again after a delay that doubles while starts keep failing. */
  #fillLater(error: unknown): void {
    if (this.#closed || this.#restartTimer !== undefined) return;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 2 * this.#restartDelay || FIRST_RESTART_DELAY_MS);
    this.#restartDelay = delay;
    this.options.onInternalError?.(`cannot start a worker: ${error}; trying again in ${delay} ms`);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#fill();
    }, delay);
  }

  /** A ready worker fills an empty slot first, then the spare place. */
  #place(started: Started): void {
    if (this.#closed) {
      started.worker.terminate();
    } else if (this.#slots.length < this.options.size) {
      this.#adopt(started);
      this.#dispatch();
    } else if (!this.#spare) {
      this.#spare = started;
      // A spare that ends while it waits is replaced too.
      const lost = () => {
        if (this.#spare !== started) return;
        this.#spare = undefined;
        started.worker.terminate();
        this.options.onInternalError?.("the spare worker ended; replacing it");
        this.#fill();
      };
      started.worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
        if (data.type === "exit") lost();
      };
      started.worker.onerror = (event) => {
        event.preventDefault();
        lost();
      };
      this.#replaceOverdue();
    } else {
      started.worker.terminate();
    }
  }

  /** Starts a worker and resolves once its backend is loaded. */
  #spawn(): Promise<Started> {
    const worker = new Worker(this.options.workerUrl ?? defaultWorkerUrl, { type: "module" });
    const flag = createCancelFlag();
    return new Promise((resolve, reject) => {
      worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
        if (data.type === "ready") resolve({ worker, flag });
        else if (data.type === "failed" || data.type === "exit") {
          worker.terminate();
          reject(
            new Error(data.type === "exit" ? "the worker exited while starting" : data.message),
          );
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
        // A replaced worker may still be inside the library while its successor works.
        workers: this.options.size + 1,
        cancel: flag,
        opened: backendOpened,
      };
      worker.postMessage(init);
    });
  }
}
