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

/** The process's logger: a {@linkcode Logger} that can also be waited for before exiting. */
export interface ProcessLogger extends Logger {
  /** Resolves once everything logged so far is written, or after `ms` (a stream not read). */
  drained(ms: number): Promise<void>;
}

/** Access-log lines are written together once this many bytes wait, or after FLUSH_MS. */
const FLUSH_BYTES = 32 * 1024;
const FLUSH_MS = 20;
/**
 * Bytes that may wait for a stream nobody reads (a stuck log collector); beyond, lines are
 * dropped and counted. A few seconds of a busy server's access log.
 */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

const encoder = new TextEncoder();
const stamp = (message: string) => `${new Date().toISOString()} ${message}`;

/**
 * Writes text to a stream in order without ever blocking the server. A write that waits for
 * the reader (a pipe is full when its reader stops) only holds back the writes after it: with
 * synchronous writes, a log collector that stopped reading stalled every request after 64 KiB
 * (the pipe's buffer), `/health` included. What waits is bounded by MAX_PENDING_BYTES; lines
 * past it are dropped, and once the stream drains a line says how many.
 */
class StreamWriter {
  #queue: Uint8Array[] = [];
  #bytes = 0;
  #dropped = 0;
  #draining?: Promise<void>;

  constructor(readonly stream: { write(data: Uint8Array): Promise<number> }) {}

  /** Queues `text` (`lines` lines, counted if dropped). */
  write(text: string, lines = 1): void {
    const data = encoder.encode(text);
    if (this.#bytes + data.byteLength > MAX_PENDING_BYTES) {
      this.#dropped += lines;
      return;
    }
    this.#queue.push(data);
    this.#bytes += data.byteLength;
    this.#draining ??= this.#drain();
  }

  /** Resolves when the queue is empty, or after `ms`. */
  async drained(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
    await Promise.race([this.#draining, late]);
    clearTimeout(timer);
  }

  async #drain(): Promise<void> {
    for (let data = this.#queue.shift(); data; data = this.#queue.shift()) {
      try {
        for (let written = 0; written < data.byteLength;) {
          written += await this.stream.write(data.subarray(written));
        }
      } catch {
        // The stream is closed: there is nowhere left to say anything.
      }
      this.#bytes -= data.byteLength;
      if (this.#dropped > 0 && this.#queue.length === 0) {
        const dropped = this.#dropped;
        this.#dropped = 0;
        this.write(stamp(`log: dropped ${dropped} lines: the output was not being read\n`));
      }
    }
    this.#draining = undefined;
  }
}

/**
 * Logs to stdout/stderr with an ISO time stamp. Access-log lines, one per request, are
 * buffered briefly and written in one call: one write per line was a large share of the
 * cost of a cache hit. Messages (info, error) are written at once, after the buffered lines.
 * No write blocks the server (see {@linkcode StreamWriter}).
 */
export function createLogger(verbose: boolean): ProcessLogger {
  const stdout = new StreamWriter(Deno.stdout);
  const stderr = new StreamWriter(Deno.stderr);
  let pending: string[] = [];
  let bytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    stdout.write(pending.join("\n") + "\n", pending.length);
    pending = [];
    bytes = 0;
  };
  return {
    verbose,
    info(message) {
      flush();
      stdout.write(stamp(message) + "\n");
    },
    error(message) {
      flush();
      stderr.write(stamp(message) + "\n");
    },
    line(text) {
      pending.push(text);
      bytes += text.length;
      if (bytes >= FLUSH_BYTES) flush();
      else if (timer === undefined) timer = setTimeout(flush, FLUSH_MS);
    },
    flush,
    async drained(ms) {
      flush();
      await Promise.all([stdout.drained(ms), stderr.drained(ms)]);
    },
  };
}
