// impressionist as its own process (`main.ts`), for tests whose input could abort, flood or
// wedge a server: the test runner survives, and the child's CPU time, memory and liveness are
// read from /proc, which counts every thread the server runs (workers, codecs, libraries).
import { join } from "node:path";

const main = new URL("../main.ts", import.meta.url).pathname;
const ticksPerSecond = 100; // USER_HZ on Linux

/** A `main.ts` process on a loopback port and what can be measured of it. */
export interface ChildServer {
  /** `http://127.0.0.1:PORT`, without the root. */
  origin: string;
  /** The image URL prefix: origin plus `http.root`. */
  url: string;
  dir: string;
  pid: number;
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string;
  /** False once the process has exited (or was killed by the memory guard). */
  alive(): boolean;
  /** The largest resident set size seen by the memory guard, in bytes. */
  peakRss(): number;
  /** Sets the RSS in bytes beyond which the memory guard kills the child (a test's own bound). */
  guardRss(maxRss: number): void;
  /**
   * Waits until the pool has all its workers and its spare, which start after the server
   * listens (on vips each with a job process), then counts the peak RSS from there: a test of a
   * request's memory does not see the start's.
   */
  settled(): Promise<void>;
  /** Rewrites the config file (merged like at start) and sends SIGHUP. */
  reload(config: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** Reads one field of /proc/PID/status in bytes (the kB fields) or as a number. */
export async function procStatus(pid: number | "self", field: string): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = new RegExp(`^${field}:\\s+(\\d+)( kB)?`, "m").exec(text);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * (match[2] ? 1024 : 1);
}

/**
 * The resident memory of process `pid` and of every process under it (the vips backend's job
 * processes, lib/pool/job_process.ts), in bytes.
 */
export const rss = (pid: number | "self") => treeStatusBytes(pid, "VmRSS");

/**
 * The peak resident memory of process `pid` and of every process under it since
 * {@link resetPeakRss} (each one's own peak, summed: an upper bound), in bytes.
 */
export const peakRssSinceReset = (pid: number) => treeStatusBytes(pid, "VmHWM");

/** Resets the peak resident memory of process `pid` and of every process under it. */
export async function resetPeakRss(pid: number): Promise<void> {
  for (const process of processTree(pid)) {
    await Deno.writeTextFile(`/proc/${process}/clear_refs`, "5").catch(() => {
      // It ended while we looked.
    });
  }
}

/**
 * The text of a /proc file, or undefined when its process or thread has ended (between a listing
 * and the read, or before the look).
 */
function procText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The thread ids of process `pid`, none once it has ended. */
function threadsOf(pid: number | "self"): string[] {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].map(({ name }) => name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** A kB field of /proc/PID/status summed over `pid` and every process under it, in bytes. */
function treeStatusBytes(pid: number | "self", field: "VmRSS" | "VmHWM"): Promise<number> {
  return Promise.resolve(statusBytes(processTree(pid), field));
}

/** A kB field of /proc/PID/status summed over `processes`, in bytes. */
export function statusBytes(processes: (number | "self")[], field: "VmRSS" | "VmHWM"): number {
  let total = 0;
  for (const process of processes) {
    const status = procText(`/proc/${process}/status`);
    if (status === undefined) continue;
    // A process that has ended and is not yet waited for (a zombie) has no VmRSS: it holds none.
    const kB = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    total += kB ? Number(kB[1]) * 1024 : 0;
  }
  return total;
}

/**
 * User plus system CPU time of process `pid` and of every process under it, in seconds: all their
 * threads, the processes they have ended and waited for, and those still running (the vips
 * backend's job processes). So a test of the CPU after a 503 or a hang-up sees the libraries'
 * work wherever it runs.
 */
export function cpuSeconds(pid: number | "self"): number {
  let ticks = 0;
  for (const process of processTree(pid)) {
    // One that has ended is counted in its parent's reaped-children fields once waited for.
    const stat = procText(`/proc/${process}/stat`);
    if (stat === undefined) continue;
    // The command name may hold spaces; the fields after it are fixed: utime, stime, and the
    // same for the children it has waited for.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / ticksPerSecond;
}

/** The processes under `pid` (the vips backend's job processes), parents first. */
export const processesUnder = (pid: number) => processTree(pid).slice(1) as number[];

/** `pid` and the processes under it, parents first. */
function processTree(pid: number | "self"): (number | "self")[] {
  const tree: (number | "self")[] = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...childrenOf(tree[i]));
  return tree;
}

/** The processes that `pid`'s threads have started and not yet been waited for. */
function childrenOf(pid: number | "self"): number[] {
  const children: number[] = [];
  for (const name of threadsOf(pid)) {
    const list = procText(`/proc/${pid}/task/${name}/children`)?.trim();
    if (list) children.push(...list.split(" ").map(Number));
  }
  return children;
}

/** The CPU seconds `pid` spends during `ms` milliseconds of waiting. */
export async function cpuDuring(pid: number, ms: number): Promise<number> {
  const before = cpuSeconds(pid);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return cpuSeconds(pid) - before;
}

/** How many Web Worker threads (Deno names them "worker-N") process `pid` has now. */
export function workerThreads(pid: number): number {
  return threadsOf(pid).filter((name) =>
    procText(`/proc/${pid}/task/${name}/comm`)?.startsWith("worker-")
  ).length;
}

function configFor(config: Record<string, unknown>) {
  const { http, ...rest } = config as { http?: Record<string, unknown> };
  return {
    http: { host: "127.0.0.1", port: 0, workers: 1, ...http },
    storages: [{ name: "files", type: "local", path: "files" }],
    ...rest,
  };
}

/** The memory guard's bound when a test names none. */
export const DEFAULT_MAX_RSS = 3 * 1024 ** 3;

/**
 * Writes `files` under a temp dir's `files/`, and starts `main.ts` on a config made of
 * `config` over a test default (loopback, a free port, one worker, a local storage "files").
 * A guard samples the child's RSS every 50 ms and kills it beyond `maxRss` bytes, so a memory
 * bomb fails its test instead of starving the machine.
 */
export async function startChildServer(
  files: Record<string, Uint8Array>,
  config: Record<string, unknown> = {},
  { maxRss = DEFAULT_MAX_RSS, env = {} }: { maxRss?: number; env?: Record<string, string> } = {},
): Promise<ChildServer> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-child-" });
  await Deno.mkdir(join(dir, "files"));
  for (const [name, bytes] of Object.entries(files)) {
    await Deno.mkdir(join(dir, "files", name, ".."), { recursive: true });
    await Deno.writeFile(join(dir, "files", name), bytes);
  }
  const configFile = join(dir, "config.json");
  await Deno.writeTextFile(configFile, JSON.stringify(configFor(config)));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, "-cfg", configFile],
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  let seen = "";
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  const drain = (stream: ReadableStream<Uint8Array<ArrayBuffer>>) =>
    (async () => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) seen += text;
    })();
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let peak = 0;
  const guard = setInterval(async () => {
    if (exited) return;
    try {
      peak = Math.max(peak, await rss(child.pid));
      if (peak > maxRss && !exited) {
        seen += `\n[test] killed: RSS ${peak} bytes is over ${maxRss}\n`;
        child.kill("SIGKILL");
      }
    } catch {
      // The process ended between the check and the read.
    }
  }, 50);
  const stop = async () => {
    clearInterval(guard);
    if (!exited) child.kill("SIGKILL");
    await status;
    await drained;
    await Deno.remove(dir, { recursive: true });
  };
  const listening = /listening on (http:\/\/[^/\s]+)(\S*)/;
  for (let waited = 0; !listening.test(seen); waited += 20) {
    if (exited || waited > 60_000) {
      await stop();
      throw new Error(`the server did not start: ${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const [, origin, root] = listening.exec(seen)!;
  return {
    origin,
    url: origin + root,
    dir,
    pid: child.pid,
    output: () => seen,
    alive: () => !exited,
    peakRss: () => peak,
    guardRss(bytes) {
      maxRss = bytes;
    },
    async settled() {
      for (let waited = 0; waited < 30_000; waited += 50) {
        const health = await (await fetch(`${origin}/health`)).json();
        if (health.live === health.workers && health.spare === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      peak = await rss(child.pid);
    },
    async reload(next) {
      await Deno.writeTextFile(configFile, JSON.stringify(configFor(next)));
      const before = seen.length;
      child.kill("SIGHUP");
      for (let waited = 0; !/reloaded|cannot|error/i.test(seen.slice(before)); waited += 20) {
        if (waited > 10_000) throw new Error(`no reload in the log: ${seen.slice(before)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: stop,
  };
}

/** The backends of the tree under test: the vips one only where lib/vips/ exists. */
export async function backendNames(): Promise<string[]> {
  const names = ["pure", "imagemagick", "graphicsmagick"];
  try {
    await Deno.stat(new URL("../lib/vips/", import.meta.url));
    names.push("vips");
  } catch {
    // This tree has no vips backend.
  }
  return names;
}

/**
 * `startChildServer` on one backend; undefined (with a printed reason) when the backend's
 * library is missing, except for pure and under CI=true, where that fails the test.
 */
export async function startBackendChild(
  files: Record<string, Uint8Array>,
  backend: string,
  config: Record<string, unknown> = {},
  options?: { maxRss?: number },
): Promise<ChildServer | undefined> {
  try {
    return await startChildServer(files, { ...config, backend }, options);
  } catch (error) {
    const missing = /Cannot start the/.test((error as Error).message);
    if (backend === "pure" || !missing || Deno.env.get("CI") === "true") throw error;
    console.log(`skipped ${backend}: ${(error as Error).message.slice(0, 200)}`);
    return undefined;
  }
}
