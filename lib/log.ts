/** Where the server writes its lines; `verbose` is `-debug`. */
export interface Logger {
  readonly verbose: boolean;
  info(message: string): void;
  error(message: string): void;
  /** A finished access-log line (the access log formats its own), written as is. */
  line(text: string): void;
  /** Writes out the access-log lines still buffered. */
  flush(): void;
}

/** Access-log lines are written together once this many bytes wait, or after FLUSH_MS. */
const FLUSH_BYTES = 32 * 1024;
const FLUSH_MS = 20;

/**
 * Logs to stdout/stderr with an ISO time stamp. Access-log lines, one per request, are
 * buffered briefly and written in one call: one write per line was a large share of the
 * cost of a cache hit. Messages (info, error) are written at once, after the buffered lines.
 */
export function createLogger(verbose: boolean): Logger {
  const encoder = new TextEncoder();
  let pending: string[] = [];
  let bytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stamp = (message: string) => `${new Date().toISOString()} ${message}`;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join("\n") + "\n";
    pending = [];
    bytes = 0;
    const data = encoder.encode(text);
    for (let written = 0; written < data.length;) {
      written += Deno.stdout.writeSync(data.subarray(written));
    }
  };
  return {
    verbose,
    info(message) {
      flush();
      console.log(stamp(message));
    },
    error(message) {
      flush();
      console.error(stamp(message));
    },
    line(text) {
      pending.push(text);
      bytes += text.length;
      if (bytes >= FLUSH_BYTES) flush();
      else if (timer === undefined) timer = setTimeout(flush, FLUSH_MS);
    },
    flush,
  };
}
