import { join } from "node:path";
import { LruCache } from "./lru.ts";

/**
 * The disk tier of the result cache: one file per result in one directory, bounded by
 * bytes, least recently used files removed first. The directory belongs to one instance: files
 * written by anyone else are not seen until the next start.
 *
 * Which files exist, their sizes and their order of use are kept in memory (read by a scan at
 * start), so a miss costs no system call and an eviction needs no scan. A read touches the
 * file's times, so the order survives a restart even on a `noatime` mount.
 */
export class ResultDirectory {
  readonly #files: LruCache<number>;

  private constructor(readonly dir: string, readonly maxBytes: number) {
    this.#files = new LruCache({
      maxEntries: Number.MAX_SAFE_INTEGER,
      maxBytes,
      sizeOf: (size) => size,
      onEvict: (key) => void Deno.remove(join(dir, key)).catch(() => {}),
    });
  }

  /**
   * Creates the directory if needed, removes the temporary files a crash left behind, and
   * indexes the results already there, evicting the least recently used beyond `maxBytes`.
   */
  static async open(dir: string, maxBytes: number): Promise<ResultDirectory> {
    await Deno.mkdir(dir, { recursive: true });
    const directory = new ResultDirectory(dir, maxBytes);
    const found: { name: string; size: number; used: number }[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      const path = join(dir, entry.name);
      // Only this instance writes here, and it has not started writing yet.
      if (entry.name.endsWith(".tmp")) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      const info = await Deno.stat(path).catch(() => undefined);
      if (!info) continue;
      const used = Math.max(info.atime?.getTime() ?? 0, info.mtime?.getTime() ?? 0);
      found.push({ name: entry.name, size: info.size, used });
    }
    found.sort((a, b) => a.used - b.used);
    for (const file of found) directory.#files.set(file.name, file.size);
    return directory;
  }

  /** Files and their bytes, for /health. */
  stats(): { files: number; bytes: number } {
    return { files: this.#files.size, bytes: this.#files.bytes };
  }

  /**
   * The file stored under `key`, or undefined when there is none or it cannot be read. The
   * bytes are as found: the caller checks them (see `results.ts`).
   */
  async read(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    if (this.#files.get(key) === undefined) return undefined;
    const path = join(this.dir, key);
    const file = await Deno.readFile(path).catch(() => undefined);
    if (!file) {
      await this.remove(key);
      return undefined;
    }
    // The order in memory is already right; this keeps it across a restart.
    const now = new Date();
    await Deno.utime(path, now, now).catch(() => {});
    return file;
  }

  /** Forgets the file under `key` and removes it, if there is one. */
  async remove(key: string): Promise<void> {
    this.#files.delete(key);
    await Deno.remove(join(this.dir, key)).catch(() => {});
  }

  /**
   * Stores `file` under `key` (written to a temporary name, then renamed, so a crash never
   * leaves a half-written result), evicting older files beyond the byte bound. A full or
   * read-only disk costs the disk tier, never the request: failures are swallowed.
   */
  async write(key: string, file: Uint8Array): Promise<void> {
    if (file.byteLength > this.maxBytes) return;
    const path = join(this.dir, key);
    const temporary = `${path}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeFile(temporary, file);
      await Deno.rename(temporary, path);
      this.#files.set(key, file.byteLength);
    } catch {
      await Deno.remove(temporary).catch(() => {});
    }
  }
}
