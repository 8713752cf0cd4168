import type { Source, Storage } from "../../storages/storage.ts";
import { LruCache } from "./lru.ts";
import { NotFound } from "../errors.ts";
import type { HeldBytes } from "./held_bytes.ts";
import { SingleFlight } from "./single_flight.ts";

export interface SourceCacheLimits {
  /** Entries; -1 (or 0) disables the cache. */
  entries: number;
  bytes: number;
}

export interface LoadedSource extends Source {
  storage: string;
  cache: "hit" | "miss";
}

/** A source a request holds: its bytes count against the held-bytes bound until released. */
export interface HeldSource extends LoadedSource {
  release(): void;
}

/**
 * Fetches source bytes from the storages through an LRU cache of bytes. A cached entry is
 * revalidated against its storage on every use, so a changed file is never served stale.
 */
export class SourceLoader {
  readonly #cache?: LruCache<Source>;
  // Concurrent requests for one source share one storage read.
  readonly #flights = new SingleFlight<LoadedSource>();

  constructor(
    readonly storages: ReadonlyMap<string, Storage>,
    limits: SourceCacheLimits,
    readonly maxBytes: number,
    readonly held: HeldBytes,
  ) {
    if (limits.entries > 0) {
      this.#cache = new LruCache({
        maxEntries: limits.entries,
        maxBytes: limits.bytes,
        sizeOf: (source) => source.bytes.byteLength,
      });
    }
  }

  /** Cached entries and their bytes, for /health and metrics. */
  stats(): { entries: number; bytes: number } {
    return { entries: this.#cache?.size ?? 0, bytes: this.#cache?.bytes ?? 0 };
  }

  /**
   * Loads a source and holds its bytes for the caller until `release()`. Concurrent loads of
   * one source share one read, which runs under its own signal: it stops only when every
   * caller waiting for it has gone.
   *
   * @throws {NotFound} for an unknown storage or a missing file
   * @throws {TooLarge} when the source exceeds the byte limit
   * @throws {Unavailable} when `signal` aborts first, or too many source bytes are held
   */
  async load(storageName: string, path: string, signal: AbortSignal): Promise<HeldSource> {
    const storage = this.storages.get(storageName);
    if (!storage) throw new NotFound(`Unknown storage "${storageName}"`);
    this.held.checkRoom();
    const key = `${storageName}\0${path}`;
    const { result } = this.#flights.join(
      key,
      signal,
      (shared) => this.#fetch(storage, storageName, key, path, shared),
    );
    const source = await result;
    return { ...source, release: this.held.hold(source.bytes.buffer) };
  }

  async #fetch(
    storage: Storage,
    storageName: string,
    key: string,
    path: string,
    signal: AbortSignal,
  ): Promise<LoadedSource> {
    const cached = this.#cache?.get(key);
    // What the storage allocates counts against the held-bytes bound before it is allocated.
    const reading = this.held.reserve(0);
    try {
      const result = await storage.get(path, {
        validator: cached?.validator,
        maxBytes: this.maxBytes,
        signal,
        reserve: reading.add,
      });
      if (result === "not-modified") return { ...cached!, storage: storageName, cache: "hit" };
      // Several jobs may use these bytes at once (cache, shared reads), so they live in shared
      // memory: one copy here, none when a worker receives them.
      const shared = new Uint8Array(new SharedArrayBuffer(result.bytes.byteLength));
      shared.set(result.bytes);
      releaseNow(result.bytes);
      const source = { ...result, bytes: shared };
      this.#cache?.set(key, source);
      return { ...source, storage: storageName, cache: "miss" };
    } finally {
      reading.release();
    }
  }
}

/**
 * Frees the memory of bytes that were just copied, at once rather than at the next garbage
 * collection: a large source would otherwise count twice in the process for a while, which is
 * what the held-bytes bound is there to prevent. Only a buffer the storage made for us alone
 * (exactly these bytes) is detached.
 */
function releaseNow(bytes: Uint8Array): void {
  const { buffer } = bytes;
  if (
    buffer instanceof ArrayBuffer && bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength
  ) {
    buffer.transfer(0);
  }
}
