import type { Freshness, Source, Storage } from "../../storages/storage.ts";
import { LruCache } from "./lru.ts";
import { type HttpError, isUpstreamFailure, NotFound } from "../errors.ts";
import type { Confirmations } from "./confirmations.ts";
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

/** A source's validator as its storage last confirmed it, and when. */
interface Confirmed {
  validator: string;
  modified?: Date;
  at: number;
  /** The storage's last failure to confirm it again (a 502 or 504), and when. */
  failure?: { error: HttpError; at: number };
  /** What this entry costs in the table's byte budget: its key and validator. */
  bytes: number;
}

/** What a validator the storage confirmed lately tells: enough to name and date a result. */
export interface KnownValidator {
  validator: string;
  modified?: Date;
}

/** Bytes of bookkeeping counted per confirmed validator besides its text. */
const ENTRY_OVERHEAD = 128;
/** While a storage fails, a source is asked again at most this often, even with `revalidate` 0s. */
const MIN_RETRY_MS = 1000;
const never: Freshness = { revalidateMs: 0, staleIfErrorMs: 0 };

/** The key of a source in the source cache and the confirmations table. */
const sourceKey = (storageName: string, path: string) => `${storageName}\0${path}`;

/**
 * Fetches source bytes from the storages through an LRU cache of bytes. A source's validator
 * is trusted for its storage's `revalidate` after the storage confirmed it; after that, each
 * use asks the storage again (a cheap `stat`, a conditional request), so a changed file shows.
 */
export class SourceLoader {
  readonly #cache?: LruCache<Source>;
  /**
   * The last validator each storage confirmed, by storage and path: client text, so bounded
   * in bytes (`caches.memoBytes`); it outlives the bytes, which the byte cache may drop.
   */
  readonly #confirmed: LruCache<Confirmed>;
  // Concurrent requests for one source share one storage read.
  readonly #flights = new SingleFlight<LoadedSource>();

  constructor(
    readonly storages: ReadonlyMap<string, Storage>,
    limits: SourceCacheLimits,
    readonly maxBytes: number,
    readonly held: HeldBytes,
    confirmedBytes: number,
    /** Where confirmations are kept for the next start and other instances, if anywhere. */
    readonly notes?: Confirmations,
  ) {
    this.#confirmed = new LruCache({
      maxEntries: Number.MAX_SAFE_INTEGER,
      maxBytes: confirmedBytes,
      sizeOf: (entry) => entry.bytes,
    });
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
   * The validator the storage confirmed for a source within its `revalidate` (`"fresh"`), or
   * within `revalidate` + `staleIfError` (`"stale"`: usable only when the storage fails);
   * undefined when there is none that recent.
   */
  confirmed(
    storageName: string,
    path: string,
    within: "fresh" | "stale",
  ): KnownValidator | undefined {
    const entry = this.#confirmed.get(sourceKey(storageName, path));
    if (!entry) return undefined;
    const { revalidateMs, staleIfErrorMs } = this.storages.get(storageName)?.freshness ?? never;
    const age = performance.now() - entry.at;
    return age < revalidateMs + (within === "stale" ? staleIfErrorMs : 0) ? entry : undefined;
  }

  /**
   * Brings in the confirmation of a source that an earlier start or another instance sharing
   * the result tiers kept (see {@linkcode Confirmations}), when this table has none and it is
   * recent enough to serve from (within `revalidate` + `staleIfError`); then `confirmed`
   * names the result without a storage call, as after a confirmation here. Undefined when
   * there is nothing to look for (no tiers, a storage that trusts nothing, a source confirmed
   * or looked for before).
   */
  recall(storageName: string, path: string, signal?: AbortSignal): Promise<void> | undefined {
    const key = sourceKey(storageName, path);
    const window = this.#window(storageName);
    if (!this.notes || window <= 0 || this.#confirmed.get(key)) return undefined;
    return this.notes.load(storageName, path, signal).then((note) => {
      if (this.#confirmed.get(key)) return;
      const age = note && Date.now() - note.at;
      // A note from the future (another clock, a forgery) proves nothing. Without a usable
      // note, an entry too old to name anything says it was looked for: a source asked for
      // again (a missing file, say) costs no second lookup; this process asks the storage.
      const usable = note && age! >= 0 && age! < window;
      if (usable) this.#remember(key, note, performance.now() - age!);
      else this.#remember(key, { validator: "" }, -Infinity);
    });
  }

  /** How long after a confirmation its validator can still name a result: fresh or stale. */
  #window(storageName: string): number {
    const { revalidateMs, staleIfErrorMs } = this.storages.get(storageName)?.freshness ?? never;
    return revalidateMs + staleIfErrorMs;
  }

  /**
   * The storage's failure (502 or 504) to confirm a source's validator again, while it is
   * recent: younger than the storage's `revalidate`, and at least a second. Until then the source
   * is not asked again, so an origin that is down or hangs costs one request per interval,
   * not one per client (each waiting for its timeout).
   */
  failure(storageName: string, path: string): HttpError | undefined {
    const failure = this.#confirmed.get(sourceKey(storageName, path))?.failure;
    if (!failure) return undefined;
    const { revalidateMs } = this.storages.get(storageName)?.freshness ?? never;
    const age = performance.now() - failure.at;
    return age < Math.max(revalidateMs, MIN_RETRY_MS) ? failure.error : undefined;
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
    const key = sourceKey(storageName, path);
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
    // Bytes of a validator still trusted are used without asking the storage.
    if (cached && this.confirmed(storageName, path, "fresh")?.validator === cached.validator) {
      return { ...cached, storage: storageName, cache: "hit" };
    }
    // What the storage allocates counts against the held-bytes bound before it is allocated.
    const reading = this.held.reserve(0);
    try {
      const result = await storage.get(path, {
        validator: cached?.validator,
        maxBytes: this.maxBytes,
        signal,
        reserve: reading.add,
        shared: true,
      });
      if (result === "not-modified") {
        this.#confirm(storageName, path, cached!);
        return { ...cached!, storage: storageName, cache: "hit" };
      }
      const source = { ...result, bytes: inSharedMemory(result.bytes) };
      this.#cache?.set(key, source);
      this.#confirm(storageName, path, source);
      return { ...source, storage: storageName, cache: "miss" };
    } catch (error) {
      const entry = this.#confirmed.get(key);
      if (entry && isUpstreamFailure(error)) entry.failure = { error, at: performance.now() };
      throw error;
    } finally {
      reading.release();
    }
  }

  #confirm(storageName: string, path: string, { validator, modified }: Source): void {
    this.#remember(sourceKey(storageName, path), { validator, modified }, performance.now());
    if (this.notes && this.#window(storageName) > 0) {
      const note = { validator, modified, at: Date.now() };
      this.notes.save(storageName, path, note).catch(() => {});
    }
  }

  #remember(key: string, { validator, modified }: KnownValidator, at: number): void {
    const bytes = 2 * (key.length + validator.length) + ENTRY_OVERHEAD;
    this.#confirmed.set(key, { validator, modified, at, bytes });
  }
}

/**
 * Several jobs may use a source's bytes at once (cache, shared reads), so they live in shared
 * memory: a storage that read them there already (local files) saves the copy; otherwise one
 * copy here, and none when a worker receives them.
 */
function inSharedMemory(bytes: Uint8Array): Uint8Array<SharedArrayBuffer> {
  if (bytes.buffer instanceof SharedArrayBuffer) return bytes as Uint8Array<SharedArrayBuffer>;
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  shared.set(bytes);
  releaseNow(bytes);
  return shared;
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
