import type { ResultType } from "../image/formats.ts";
import { probeImage } from "../image/probe.ts";
import { sniffEncoded } from "../image/sniff.ts";
import { LruCache } from "./lru.ts";
import { ResultDirectory } from "./result_dir.ts";
import { Sealer } from "./sealed.ts";
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
  /** The key of the seals on disk and in the store (`caches.secret`); none: a plain checksum. */
  secret?: string;
  /** Told about every stored result refused when read back, with why; it was a miss. */
  onRejected(tier: ResultTier, key: string, reason: string): void;
  /** Told why the directory cannot be written (full, read-only), once a minute at most. */
  onDiskError?(reason: string): void;
}

/**
 * What one result costs in memory besides its bytes and its key: its typed array and buffer
 * objects and the map's entry. Measured: 400,000 results of 60 bytes in a 16 MiB tier grew the
 * heap by 98 MiB when only the bytes were counted (~300 bytes more each), so a client asking
 * for many tiny results could hold several times `caches.result`.
 */
const RESULT_ENTRY_OVERHEAD = 320;

/** Which tier answered a lookup: this process, this machine's disk, or the shared store. */
export type ResultTier = "memory" | "disk" | "shared";

export interface CachedResult {
  bytes: Uint8Array<ArrayBuffer>;
  tier: ResultTier;
  /** The image type the bytes were checked to be. */
  type: ResultType;
}

/**
 * Encoded results by key, looked up nearest first: an LRU in memory, an optional directory,
 * an optional store shared by every instance. A result found further away is copied into the
 * nearer tiers. No tier can fail a request: a tier that fails is a miss.
 *
 * Nothing read back is trusted: every tier's bytes are checked to be an image of a type the
 * request allows before they are served, and the directory's and the store's files to carry a
 * valid seal (`sealed.ts`) for their key. Anything else is a miss, reported to `onRejected`,
 * removed from the tier it was in (the store is left to the next write), and never copied
 * into a nearer tier.
 */
export class ResultCache {
  readonly #memory: LruCache<Uint8Array<ArrayBuffer>>;
  readonly #sealer: Sealer;
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
      sizeOf: (bytes, key) => bytes.byteLength + key.length + RESULT_ENTRY_OVERHEAD,
    });
    this.#sealer = new Sealer(options.secret);
  }

  /** Opens the tiers the options name (scanning the directory, see {@linkcode ResultDirectory}). */
  static async open(options: ResultCacheOptions): Promise<ResultCache> {
    const directory = options.dir === undefined
      ? undefined
      : await ResultDirectory.open(options.dir, options.dirMaxBytes, options.onDiskError);
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

  /**
   * The result under `key` and the tier it came from, when it is an image of one of the types
   * `allowed` (the request's format, or for `auto` those its negotiation allows); `signal`
   * ends a shared-store read.
   */
  async get(
    key: string,
    allowed: ReadonlySet<ResultType>,
    signal?: AbortSignal,
  ): Promise<CachedResult | undefined> {
    const found = await this.#find(key, allowed, signal);
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
    if (!this.directory && !this.shared) return;
    const file = this.#sealer.seal(key, bytes);
    await this.directory?.write(key, file);
    this.shared?.put(key, file);
  }

  /**
   * Keeps a small sealed note (not a result: never served, never counted as a hit) under
   * `key` on disk and in the shared store, for other processes and the next start.
   */
  async setNote(key: string, content: Uint8Array): Promise<void> {
    if (!this.directory && !this.shared) return;
    const file = this.#sealer.seal(key, content);
    await this.directory?.write(key, file);
    this.shared?.put(key, file);
  }

  /** The note under `key`, nearest tier first, when its seal holds; a bad one is removed. */
  async getNote(key: string, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const onDisk = await this.directory?.read(key);
    const fromDisk = onDisk && this.#sealer.unseal(key, onDisk);
    if (fromDisk) return fromDisk;
    if (onDisk) await this.directory!.remove(key);
    const shared = await this.shared?.get(key, signal, { count: false });
    const fromShared = shared && this.#sealer.unseal(key, shared);
    if (fromShared) await this.directory?.write(key, shared);
    return fromShared;
  }

  /** Resolves when the shared-store writes started so far have ended. */
  async settled(): Promise<void> {
    await this.shared?.settled();
  }

  async #find(
    key: string,
    allowed: ReadonlySet<ResultType>,
    signal?: AbortSignal,
  ): Promise<CachedResult | undefined> {
    const inMemory = this.#memory.get(key);
    if (inMemory) {
      const found = this.#check("memory", key, inMemory, allowed);
      if (found) return found;
      this.#memory.delete(key);
    }
    const onDisk = await this.directory?.read(key);
    if (onDisk) {
      const found = this.#check("disk", key, this.#sealer.unseal(key, onDisk), allowed);
      if (found) {
        this.#memory.set(key, found.bytes);
        return found;
      }
      await this.directory!.remove(key);
    }
    const shared = await this.shared?.get(key, signal);
    if (shared) {
      const found = this.#check("shared", key, this.#sealer.unseal(key, shared), allowed);
      if (found) {
        this.#memory.set(key, found.bytes);
        await this.directory?.write(key, shared);
        return found;
      }
      this.shared!.refuse();
    }
    return undefined;
  }

  /** The tier's content as a result when it is an image of an allowed type; else reported. */
  #check(
    tier: ResultTier,
    key: string,
    content: Uint8Array<ArrayBuffer> | undefined,
    allowed: ReadonlySet<ResultType>,
  ): CachedResult | undefined {
    if (!content) {
      this.options.onRejected(tier, key, "its seal does not match (damaged, foreign or forged)");
      return undefined;
    }
    const type = sniffEncoded(content);
    if (!type || !allowed.has(type)) {
      const expected = [...allowed].join(" or ");
      this.options.onRejected(tier, key, `it holds ${type ?? "no image we know"}, not ${expected}`);
      return undefined;
    }
    const header = headerProblem(content, type);
    if (header) {
      this.options.onRejected(tier, key, header);
      return undefined;
    }
    return { bytes: content, tier, type };
  }
}

/**
 * Why the content after the magic bytes is not one of a `type` result (a page behind a PNG
 * signature, say), or undefined when it reads. AVIF and JPEG XL have no probe here: their
 * brand or signature was checked. An `info` answer must parse as the JSON object it was.
 */
function headerProblem(bytes: Uint8Array, type: ResultType): string | undefined {
  if (type === "avif" || type === "jxl") return undefined;
  try {
    if (type === "info") checkInfoJson(bytes);
    else probeImage(bytes, type);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function checkInfoJson(bytes: Uint8Array): void {
  const answer = JSON.parse(new TextDecoder().decode(bytes));
  if (typeof answer?.width !== "number" || typeof answer?.height !== "number") {
    throw new Error("it is JSON, but not an info answer");
  }
}
