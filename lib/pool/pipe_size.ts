/**
 * Widens the job process's stdin and stdout pipes from Linux's 64 KiB to 1 MiB. A 1.3 MB source
 * then crosses in two hand-overs instead of twenty, each of which wakes both processes: a round
 * trip measured 1.7–2.6 ms of CPU at 64 KiB, 0.9–1.0 ms at 1 MiB.
 *
 * @module
 */

/** `fcntl`'s command that sets a pipe's capacity (Linux). */
const F_SETPIPE_SZ = 1031;
/** Linux's default /proc/sys/fs/pipe-max-size: the most an unprivileged process may ask. */
const PIPE_BYTES = 1024 * 1024;

/**
 * Asks for wider pipes on file descriptors 0 and 1; where that cannot be had (another system, a
 * lower pipe-max-size) they stay as they are, which only costs speed.
 */
export function widenStdioPipes(): void {
  if (Deno.build.os !== "linux") return;
  let libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
    });
  } catch {
    return;
  }
  try {
    // Constant arguments: descriptors this process owns from its start, a size within limits.
    for (const fd of [0, 1]) libc.symbols.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES);
  } finally {
    libc.close();
  }
}
