import { getPriority, setPriority } from "node:os";

/**
 * Image work runs at a lower scheduling priority than the HTTP thread. The pool's threads keep
 * the cores busy, and the HTTP thread must wake at once when a request, a file read or a
 * worker's answer arrives: at equal priority it waits for a worker's time slice to end, on
 * each of the several wake-ups of a request, and the worker waiting for its next job waits too.
 * A lower priority only reorders who runs first: on an idle core the work runs at full speed.
 *
 * Linux only, through `/proc` (a thread's nice value is its own there); elsewhere, or without
 * the permission to read `/proc` or set priorities, nothing changes.
 */

/** The nice value of image work: the process's own plus `by`, within Linux's 19. */
function workNice(by: number): number {
  return Math.min(19, getPriority(Deno.pid) + by);
}

function tryToLower(tid: number, by: number): void {
  try {
    setPriority(tid, workNice(by));
  } catch {
    // Not Linux, or no permission: the work runs at the HTTP thread's priority.
  }
}

/** Lowers the calling thread's priority by `by` (see above). */
export function lowerOwnPriority(by: number): void {
  if (by <= 0) return;
  try {
    tryToLower(Number(Deno.readLinkSync("/proc/thread-self").split("/").pop()), by);
  } catch {
    // No /proc: not Linux.
  }
}

/**
 * Lowers the priority of the threads a native library starts for its work (libvips' workers):
 * they are started by threads of its own and do not inherit the priority of the worker that
 * uses the library. `lower()` after each job costs one directory read once every thread has
 * been seen; every 64th call looks at every thread again, for one whose name was not set yet
 * when it was first seen.
 */
export class LibraryThreads {
  #seen = new Set<number>();
  #calls = 0;

  /** Threads named `prefix…`, to lower by `by`. */
  constructor(readonly prefix: string, readonly by: number) {}

  lower(): void {
    if (this.by <= 0) return;
    if (++this.#calls % 64 === 0) this.#seen.clear();
    const alive = new Set<number>();
    try {
      for (const entry of Deno.readDirSync("/proc/self/task")) {
        const tid = Number(entry.name);
        alive.add(tid);
        if (this.#seen.has(tid)) continue;
        const name = Deno.readTextFileSync(`/proc/self/task/${tid}/comm`);
        if (name.startsWith(this.prefix)) tryToLower(tid, this.by);
      }
    } catch {
      // No /proc, or a thread ended while read: the next call looks again.
    }
    // Only live threads are remembered: ended ones' ids may be given to new threads.
    this.#seen = alive;
  }
}
