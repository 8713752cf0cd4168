/**
 * A worker's side of its job process (`job_process.ts`): starts it when a job needs it (a worker
 * that only gets light jobs never does), hands it one job at a time, and kills it the moment the
 * job is cancelled, since nothing inside libvips would stop sooner. The cancelled job ends once
 * the process is gone; the next job that needs one starts another, so a cancellation leaves no
 * CPU behind it (a start is 150–450 ms and ~0.2 s of CPU, paid by that next job).
 *
 * @module
 */
import type { BackendName } from "../config/config.ts";
import { Cancelled, type CancelToken } from "../image/cancel.ts";
import type { ImageLimits } from "../image/limits.ts";
import type { Transform } from "../jobs/transform.ts";
import { FrameReader, writeFrame } from "./frames.ts";
import type { FromJobProcess, ToJobProcess } from "./job_process.ts";
import type { Failure } from "./protocol.ts";

/** What a job answered: its output, or why it failed. */
export type Outcome =
  | { type: "done"; bytes: Uint8Array<ArrayBuffer> }
  | ({ type: "error" } & Failure);

/** What the process needs: read its code and the library, the environment, load the addon. */
const PERMISSIONS = ["--allow-read", "--allow-env", "--allow-ffi", "--allow-sys"];

/**
 * How to start a job process: a compiled server starts itself with the `job-process` command
 * (main.ts); otherwise Deno runs the module, under the project's config (its imports, its lock).
 */
function command(): { path: string; args: string[] } {
  if (Deno.build.standalone) return { path: Deno.execPath(), args: ["job-process"] };
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const module = new URL("./job_process.ts", import.meta.url).href;
  return {
    path: Deno.execPath(),
    args: ["run", "--quiet", "--no-prompt", `--config=${config}`, ...PERMISSIONS, module],
  };
}

/** One started process and its pipes. */
interface Live {
  child: Deno.ChildProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  reader: FrameReader;
  /** Set when a job is handed to it, and when it is being stopped. */
  busy: boolean;
  /** Set once it is forgotten, so that a later job's new process is never forgotten for it. */
  retired?: boolean;
}

/** Waits between looks at the cancellation flag: how long a waiter outlives its job at most. */
const FLAG_WAIT_MS = 250;

/**
 * Resolves `true` once `cancel` is set, or `false` once `until` has settled. Wakes at once on a
 * cancellation (`cancelJob` notifies the flag's waiters).
 */
async function cancelledBefore(cancel: CancelToken, until: Promise<unknown>): Promise<boolean> {
  let settled = false;
  until.then(() => settled = true, () => settled = true);
  // Only another thread could set a flag; one in this thread's memory never changes meanwhile.
  if (!(cancel.flag.buffer instanceof SharedArrayBuffer)) {
    await until.catch(() => {});
    return cancel.cancelled;
  }
  while (!settled) {
    const seen = Atomics.load(cancel.flag, 0);
    if (cancel.cancelled) return true;
    const wait = Atomics.waitAsync(cancel.flag, 0, seen, FLAG_WAIT_MS);
    if (wait.async) await Promise.race([wait.value, until.catch(() => {})]);
  }
  return false;
}

export class JobProcessRunner {
  /** The process, or its start; none until a job needs one, and none once it has ended. */
  #live?: Promise<Live>;

  private constructor(readonly init: ToJobProcess & { type: "init" }) {}

  /**
   * A runner whose process starts with its first job (150–450 ms and ~0.2 s of CPU then): a
   * process holds ~34 MiB of its own, which a worker that only gets light jobs never needs.
   */
  static create(backend: BackendName, limits: ImageLimits, workers: number): JobProcessRunner {
    return new JobProcessRunner({ type: "init", backend, limits, workers });
  }

  /** A runner whose process has started, once its backend is loaded. */
  static async start(
    backend: BackendName,
    limits: ImageLimits,
    workers: number,
  ): Promise<JobProcessRunner> {
    const runner = JobProcessRunner.create(backend, limits, workers);
    await (runner.#live = runner.#start());
    return runner;
  }

  /**
   * Runs `task` on `bytes` in the process.
   *
   * @throws {Cancelled} once the job is cancelled: the process is killed then
   */
  async run(task: Transform, bytes: Uint8Array, cancel: CancelToken): Promise<Outcome> {
    let live;
    try {
      live = await (this.#live ??= this.#start());
    } catch {
      // The last start failed: this job tries once more.
      this.#live = this.#start();
      try {
        live = await this.#live;
      } catch (error) {
        // The machine's trouble (out of memory, processes), not the request's: it may try again.
        console.error(`impressionist: a job process cannot start: ${(error as Error).message}`);
        this.#live.catch(() => {});
        return {
          type: "error",
          error: { status: 503, message: "The image workers are restarting: try again shortly" },
          internal: false,
        };
      }
    }
    // Cancelled while its process started: the process stays, idle, for the next job.
    if (cancel.cancelled) throw new Cancelled();
    live.busy = true;
    const answered = (async () => {
      await writeFrame(live.writer, { type: "job", task } satisfies ToJobProcess, bytes);
      return await live.reader.next<FromJobProcess>();
    })();
    if (await cancelledBefore(cancel, answered)) {
      answered.catch(() => {});
      // Answered once the process is gone: its memory is free before this worker's next job.
      await this.#retire(live);
      throw new Cancelled();
    }
    let frame;
    try {
      frame = await answered;
    } catch {
      frame = undefined;
    }
    if (frame?.header.type === "done" || frame?.header.type === "error") live.busy = false;
    if (frame?.header.type === "done") return { type: "done", bytes: frame.bytes };
    if (frame?.header.type === "error") return frame.header;
    // The process ended mid-job: this job fails alone, and the next starts a new process.
    return ended(await this.#retire(live));
  }

  /**
   * Kills `live` and forgets it, so that the next job starts a new process (unless that has
   * begun already: `live` ended while idle just as a job was handed to it); answers how it ended.
   */
  #retire(live: Live): Promise<Deno.CommandStatus> {
    if (!live.retired) {
      live.retired = true;
      this.#live = undefined;
    }
    return stop(live);
  }

  async #start(): Promise<Live> {
    const { path, args } = command();
    const child = new Deno.Command(path, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const live: Live = {
      child,
      writer: child.stdin.getWriter(),
      reader: new FrameReader(child.stdout),
      busy: true,
    };
    try {
      await writeFrame(live.writer, this.init);
      const frame = await live.reader.next<FromJobProcess>();
      if (frame?.header.type === "ready") {
        live.busy = false;
        // One that ends while it waits for a job (the out-of-memory killer, an operator) is
        // forgotten then, so the next job starts another rather than finding it gone.
        child.status.then(() => {
          if (!live.busy) this.#retire(live);
        });
        return live;
      }
      throw new Error(
        frame?.header.type === "failed" ? frame.header.message : "it ended while starting",
      );
    } catch (error) {
      await stop(live);
      throw error;
    }
  }
}

/** Kills the process and waits until it is gone, so its memory and CPU are released. */
async function stop(live: Live): Promise<Deno.CommandStatus> {
  live.busy = true;
  try {
    live.child.kill("SIGKILL");
  } catch {
    // It has ended already.
  }
  await live.reader.cancel();
  await live.writer.abort().catch(() => {});
  return await live.child.status;
}

/**
 * A job whose process ended under it. Killed from outside (the kernel's out-of-memory killer,
 * an operator): 503, as any lack of resources. Otherwise the library gave up on this image (an
 * abort, a crash on hostile bytes): 422, as for an image it refuses.
 */
function ended(status: Deno.CommandStatus): Outcome {
  const how = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
  const [code, message] = status.signal === "SIGKILL"
    ? [503, `The server ran out of resources for this image (its job process ended: ${how})`]
    : [422, `The image library could not process this image (its job process ended: ${how})`];
  return { type: "error", error: { status: code, message }, internal: false };
}
