// What Linux says about a process: its CPU time and its peak memory, from /proc; and this
// process's own CPU time.
import { cpuUsage } from "node:process";

/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** CPU time (user + system, every thread) of process `pid` so far, in milliseconds. */
export function cpuMsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
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

/** The peak resident memory of process `pid` so far (VmHWM), in bytes. */
export function peakRssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kB = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return kB ? Number(kB[1]) * 1024 : 0;
}

/** CPU time (user + system, every thread) of this process so far, in milliseconds. */
export function ownCpuMs(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}
