import { LruCache } from "./lru.ts";
import { ResultDirectory } from "./result_dir.ts";
import { SharedResults, type SharedStoreOptions } from "./shared_results.ts";

export type { SharedOperation, SharedStoreOptions } from "./shared_results.ts";

export interface ResultCacheOptions {
  /** Memory budget in bytes; 0 disables the memory tier. */
  maxBytes: number;
  /** A directory that keeps results across restarts, or undefined. */
  dir?: string;
  /** What the directory may hold, in bytes (`caches.resultDirBytes`). */
  dirMaxBytes: number;
  /** The store shared by every instance (`caches.shared`), or undefined. */
  shared?: SharedStoreOptions;
}

/** Which tier answered a lookup: this process, this machine's disk, or the shared store. */
export type ResultTier = "memory" | "disk" | "shared";

export interface CachedResult {
  bytes: Uint8Array<ArrayBuffer>;
  tier: ResultTier;
}

/**
 * Encoded results by key, looked up nearest first: an LRU in memory, an optional directory,
 * an optional store shared by every instance. A result found further away is copied into the
 * nearer tiers. No tier can fail a request: a tier that fails is a miss.
 */
export class ResultCache {
  readonly #memory: LruCache<Uint8Array<ArrayBuffer>>;
  hits = 0;
  misses = 0;

  private constructor(
    readonly options: ResultCacheOptions,
    readonly directory?: ResultDirectory,
    readonly shared?: SharedResults,
  ) {
    this.#memory = new LruCache({
      maxEntries: options.maxBytes > 0 ? Number.MAX_SAFE_INTEGER : 0,
      maxBytes: options.maxBytes,
      sizeOf: (bytes) => bytes.byteLength,
    });
  }

  /** Opens the tiers the options name (scanning the directory, see {@linkcode ResultDirectory}). */
  static async open(options: ResultCacheOptions): Promise<ResultCache> {
    const directory = options.dir === undefined
      ? undefined
      : await ResultDirectory.open(options.dir, options.dirMaxBytes);
    const shared = options.shared && new SharedResults(options.shared);
    return new ResultCache(options, directory, shared);
  }

  /** Entries and bytes in memory, hits and misses, and each further tier's own, for /health. */
  stats() {
    return {
      entries: this.#memory.size,
      bytes: this.#memory.bytes,
      hits: this.hits,
      misses: this.misses,
      ...(this.directory && { dir: this.directory.stats() }),
      ...(this.shared && { shared: this.shared.stats() }),
    };
  }

  /** The result under `key` and the tier it came from; `signal` ends a shared-store read. */
  async get(key: string, signal?: AbortSignal): Promise<CachedResult | undefined> {
    const found = await this.#find(key, signal);
    if (found) this.hits++;
    else this.misses++;
    return found;
  }

  /**
   * Stores a fresh result in memory and on disk now, and in the shared store in the
   * background: the caller never waits for the store.
   */
  async set(key: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    this.#memory.set(key, bytes);
    await this.directory?.write(key, bytes);
    this.shared?.put(key, bytes);
  }

  /** Resolves when the shared-store writes started so far have ended. */
  async settled(): Promise<void> {
    await this.shared?.settled();
  }

  async #find(key: string, signal?: AbortSignal): Promise<CachedResult | undefined> {
    const inMemory = this.#memory.get(key);
    if (inMemory) return { bytes: inMemory, tier: "memory" };
    const onDisk = await this.directory?.read(key);
    if (onDisk) {
      this.#memory.set(key, onDisk);
      return { bytes: onDisk, tier: "disk" };
    }
    const shared = await this.shared?.get(key, signal);
    if (shared) {
      this.#memory.set(key, shared);
      await this.directory?.write(key, shared);
      return { bytes: shared, tier: "shared" };
    }
    return undefined;
  }
}
