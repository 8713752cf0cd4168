/** Bounds of an LRU cache: entry count and total bytes (as measured by `sizeOf`). */
export interface LruLimits<V> {
  maxEntries: number;
  maxBytes: number;
  /** What an entry costs; `key` is there for caches whose keys are a real part of that. */
  sizeOf(value: V, key: string): number;
  /** Told about each entry pushed out by the bounds (not about `delete`), e.g. to free it. */
  onEvict?(key: string, value: V): void;
}

/**
 * A least-recently-used cache bounded by entries and bytes, used by every cache of the
 * server. A value larger than `maxBytes` is not stored at all.
 */
export class LruCache<V> {
  // A Map iterates in insertion order, so re-inserting on use keeps the oldest first.
  readonly #entries = new Map<string, V>();
  #bytes = 0;

  constructor(readonly limits: LruLimits<V>) {}

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    this.delete(key);
    const size = this.limits.sizeOf(value, key);
    if (this.limits.maxEntries <= 0 || size > this.limits.maxBytes) return;
    this.#entries.set(key, value);
    this.#bytes += size;
    for (const [oldest, old] of this.#entries) {
      if (this.#entries.size <= this.limits.maxEntries && this.#bytes <= this.limits.maxBytes) {
        break;
      }
      this.#entries.delete(oldest);
      this.#bytes -= this.limits.sizeOf(old, oldest);
      this.limits.onEvict?.(oldest, old);
    }
  }

  /**
   * Evicts the least recently used entries until at least `bytes` are freed (or none is left),
   * as the bounds would: for a resource that ran out before its bound.
   */
  evictBytes(bytes: number): void {
    let freed = 0;
    for (const [oldest, old] of this.#entries) {
      if (freed >= bytes) break;
      const size = this.limits.sizeOf(old, oldest);
      this.#entries.delete(oldest);
      this.#bytes -= size;
      freed += size;
      this.limits.onEvict?.(oldest, old);
    }
  }

  delete(key: string): void {
    const value = this.#entries.get(key);
    if (value === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= this.limits.sizeOf(value, key);
  }
}
