// What Linux says about a process: its CPU time and its peak memory, from /proc; and this
// process's own CPU time. A server's figures include its job processes (the vips backend runs
// libvips in them, lib/pool/job_process.ts), so a server is charged all of its work.
import { cpuUsage } from "node:process";
import { processesUnder, statusBytes } from "../tests/child_server.ts";

/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** The job processes under process `pid`: those of its workers, not a load client it started. */
function jobProcessesOf(pid: number): number[] {
  return processesUnder(pid).filter((child) => {
    try {
      return /job[_-]process/.test(Deno.readTextFileSync(`/proc/${child}/cmdline`));
    } catch {
      return false; // It ended while we looked.
    }
  });
}

/** CPU time (user + system, every thread) of process `pid` alone so far, in milliseconds. */
function ownCpuMsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** The CPU time of the job processes under `pid` so far, in milliseconds. */
function jobProcessesCpuMs(pid: number): number {
  let ms = 0;
  for (const child of jobProcessesOf(pid)) {
    try {
      ms += ownCpuMsOf(child);
    } catch {
      // It ended while we looked.
    }
  }
  return ms;
}

/** CPU time (user + system, every thread) of process `pid` and its job processes, in ms. */
export function cpuMsOf(pid: number): number {
  return ownCpuMsOf(pid) + jobProcessesCpuMs(pid);
}

/**
 * CPU time of process `pid`'s live threads so far, in milliseconds to the nanosecond (the first
 * field of each /proc/PID/task/TID/schedstat): for a process too light for {@link cpuMsOf}'s
 * 10 ms clock ticks, such as wrk. Threads that have ended are not counted.
 */
export function liveThreadsCpuMsOf(pid: number): number {
  let nanoseconds = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const schedstat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`);
      nanoseconds += Number(schedstat.split(" ")[0]);
    } catch (error) {
      // A thread can end between the listing and the read.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return nanoseconds / 1e6;
}

/** A kB field of /proc/PID/status summed over process `pid` and its job processes, in bytes. */
const statusBytesOf = (pid: number, field: "VmHWM" | "VmRSS") =>
  statusBytes([pid, ...jobProcessesOf(pid)], field);

/**
 * The peak resident memory of process `pid` so far (VmHWM), plus each of its job processes' own
 * peak (an upper bound: their peaks may not coincide), in bytes.
 */
export const peakRssOf = (pid: number) => statusBytesOf(pid, "VmHWM");

/** The resident memory of process `pid` and its job processes now, in bytes. */
export const rssOf = (pid: number) => statusBytesOf(pid, "VmRSS");

/** CPU time (user + system, every thread) of this process and its job processes, in ms. */
export function ownCpuMs(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000 + jobProcessesCpuMs(Deno.pid);
}
