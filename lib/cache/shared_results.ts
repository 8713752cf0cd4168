import { NotFound } from "../errors.ts";
import type { WritableStorage } from "../../storages/storage.ts";
import type { HeldBytes } from "./held_bytes.ts";
import { SEAL_BYTES } from "./sealed.ts";

/** What a shared-store failure happened in, as the metric's `operation` label names it. */
export type SharedOperation = "get" | "put";

export interface SharedStoreOptions {
  /** A storage that accepts writes (`caches.shared`). */
  storage: WritableStorage;
  /** Told about every failed read or write; the request goes on without the store. */
  onError(operation: SharedOperation, error: unknown): void;
  /**
   * The bound on bytes requests hold (`image.maxInflightBytes`), which a read counts against
   * before allocating, as a source read does: a store sending large bodies (garbage, the wrong
   * endpoint) cannot hold more. A read past it fails, a miss like any other.
   */
  held?: HeldBytes;
}

/** Where results live inside the store, apart from anything else in it. */
const prefix = "results/";
/** Larger results are recomputed rather than moved through the store. */
const maxFileBytes = SEAL_BYTES + 256 * 1024 * 1024;
/**
 * Writes in flight at once. A store slower than the server then drops writes instead of
 * holding ever more results in memory.
 */
const maxPendingWrites = 16;

/**
 * The result store shared by every instance: sealed results (see `results.ts`, which checks
 * what comes back) under `results/{key}` in a writable storage. Reads and writes never fail a
 * request: a missing object is a miss, a store error or timeout is reported to `onError` and
 * is a miss too. Writes run in the background.
 */
export class SharedResults {
  readonly #pending = new Set<Promise<void>>();
  #hits = 0;
  #misses = 0;
  #errors = 0;
  #refused = 0;
  #dropped = 0;

  constructor(readonly options: SharedStoreOptions) {}

  /**
   * Lookups (`hits`: objects found, `refused` of them by the caller's checks), failures and
   * writes dropped or in flight, for /health.
   */
  stats() {
    return {
      hits: this.#hits,
      misses: this.#misses,
      refused: this.#refused,
      errors: this.#errors,
      droppedWrites: this.#dropped,
      pendingWrites: this.#pending.size,
    };
  }

  /**
   * The object stored under `key` as found, or undefined (a miss or a failing store). The
   * caller checks it, and tells `refuse` about one it does not serve. Only results count in
   * the hits and misses (`count`), not the notes kept beside them.
   */
  async get(
    key: string,
    signal?: AbortSignal,
    { count = true } = {},
  ): Promise<Uint8Array<ArrayBuffer> | undefined> {
    let file: Uint8Array<ArrayBuffer> | undefined;
    const reading = this.options.held?.reserve(0);
    try {
      const found = await this.options.storage.get(prefix + key, {
        maxBytes: maxFileBytes,
        signal,
        reserve: reading?.add,
      });
      // Without a validator there is no "not-modified"; the type allows it all the same.
      if (found !== "not-modified") file = found.bytes as Uint8Array<ArrayBuffer>;
    } catch (error) {
      // A request that gave up is its own business, not the store's.
      if (!(error instanceof NotFound) && !signal?.aborted) this.#fail("get", error);
    } finally {
      reading?.release();
    }
    if (count && file) this.#hits++;
    else if (count) this.#misses++;
    return file;
  }

  /** Counts an object `get` found that did not pass the caller's checks. */
  refuse(): void {
    this.#refused++;
  }

  /** Starts storing `file` under `key` in the background; never waits, never throws. */
  put(key: string, file: Uint8Array<ArrayBuffer>): void {
    if (file.byteLength > maxFileBytes) return;
    if (this.#pending.size >= maxPendingWrites) {
      this.#dropped++;
      return;
    }
    const write: Promise<void> = this.options.storage.put(prefix + key, file)
      .catch((error) => this.#fail("put", error))
      .finally(() => this.#pending.delete(write));
    this.#pending.add(write);
  }

  /** Resolves when the writes started so far have ended (at shutdown, so none is lost). */
  async settled(): Promise<void> {
    await Promise.all(this.#pending);
  }

  #fail(operation: SharedOperation, error: unknown) {
    this.#errors++;
    this.options.onError(operation, error);
  }
}
