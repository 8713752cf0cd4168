import { createHash } from "node:crypto";
import { join } from "node:path";
import { LruCache } from "./lru.ts";

export interface ResultCacheOptions {
  /** Memory budget in bytes; 0 disables the memory tier. */
  maxBytes: number;
  /** A directory that keeps results across restarts, or undefined. */
  dir?: string;
}

const HEADER = 4 + 32; // byte length, then SHA-256 of the content

/**
 * Encoded results by key: an LRU in memory in front of an optional directory. Files are
 * written to a temporary name and renamed, and carry their length and checksum, so neither a
 * crash mid-write nor a damaged file can ever be served.
 */
export class ResultCache {
  readonly #memory: LruCache<Uint8Array<ArrayBuffer>>;
  hits = 0;
  misses = 0;

  constructor(readonly options: ResultCacheOptions) {
    this.#memory = new LruCache({
      maxEntries: options.maxBytes > 0 ? Number.MAX_SAFE_INTEGER : 0,
      maxBytes: options.maxBytes,
      sizeOf: (bytes) => bytes.byteLength,
    });
  }

  /** Entries and bytes in memory, hits and misses, for /health and metrics. */
  stats() {
    return {
      entries: this.#memory.size,
      bytes: this.#memory.bytes,
      hits: this.hits,
      misses: this.misses,
    };
  }

  async get(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const found = this.#memory.get(key) ?? await this.#readFile(key);
    if (found) {
      this.hits++;
      this.#memory.set(key, found);
    } else {
      this.misses++;
    }
    return found;
  }

  async set(key: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    this.#memory.set(key, bytes);
    if (this.options.dir) await this.#writeFile(key, bytes);
  }

  async #readFile(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    if (!this.options.dir) return undefined;
    let file: Uint8Array<ArrayBuffer>;
    try {
      file = await Deno.readFile(join(this.options.dir, key));
    } catch {
      return undefined;
    }
    if (file.byteLength < HEADER) return undefined;
    const length = new DataView(file.buffer, file.byteOffset).getUint32(0);
    const content = file.subarray(HEADER);
    if (content.byteLength !== length) return undefined;
    if (!digest(content).equals(file.subarray(4, HEADER))) return undefined;
    return content;
  }

  async #writeFile(key: string, bytes: Uint8Array): Promise<void> {
    const file = new Uint8Array(HEADER + bytes.byteLength);
    new DataView(file.buffer).setUint32(0, bytes.byteLength);
    file.set(digest(bytes), 4);
    file.set(bytes, HEADER);
    const path = join(this.options.dir!, key);
    const temporary = `${path}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeFile(temporary, file);
      await Deno.rename(temporary, path);
    } catch {
      // A full or read-only disk costs the disk tier, never the request.
      await Deno.remove(temporary).catch(() => {});
    }
  }
}

function digest(bytes: Uint8Array) {
  return createHash("sha256").update(bytes).digest();
}
