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
