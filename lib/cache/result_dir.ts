import { join } from "node:path";
import { LruCache } from "./lru.ts";

/**
 * The unit of space a file takes on disk: the block of the usual file systems (ext4, XFS,
 * tmpfs). A result of 100 bytes still takes a block, so files are counted in whole blocks:
 * counting their bytes let 1 GiB of tiny results take 40 GiB of disk (and an index entry in
 * memory each).
 */
export const DISK_BLOCK_BYTES = 4096;

/** The disk space a file of `size` bytes takes: whole blocks, at least one. */
export const diskBytes = (size: number) =>
  Math.max(1, Math.ceil(size / DISK_BLOCK_BYTES)) * DISK_BLOCK_BYTES;

/** A failure to write is told this often at most, with the number of failures since. */
const REPORT_EVERY_MS = 60_000;

/**
 * The disk tier of the result cache: one file per result in one directory, bounded by
 * the disk space its files take, least recently used files removed first. The directory belongs to one instance: files
 * written by anyone else are not seen until the next start.
 *
 * Which files exist, their sizes and their order of use are kept in memory (read by a scan at
 * start), so a miss costs no system call and an eviction needs no scan. A read touches the
 * file's times, so the order survives a restart even on a `noatime` mount.
 */
export class ResultDirectory {
  readonly #files: LruCache<number>;
  /** When a failure to write was last told, and the failures since. */
  #reported = { at: -Infinity, failures: 0 };

  /**
   * Removals of evicted files still running. A write (and the start) waits for them, so once
   * it returns the files on disk are within the bound (and a listing no longer shows them).
   */
  #removals = new Set<Promise<void>>();

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    readonly onWriteError: (reason: string) => void,
  ) {
    this.#files = new LruCache({
      maxEntries: Number.MAX_SAFE_INTEGER,
      maxBytes,
      sizeOf: diskBytes,
      onEvict: (key) => {
        const removal = Deno.remove(join(dir, key)).catch(() => {});
        this.#removals.add(removal);
        removal.finally(() => this.#removals.delete(removal));
      },
    });
  }

  /**
   * Creates the directory if needed, removes the temporary files a crash left behind, and
   * indexes the results already there, evicting the least recently used beyond `maxBytes`.
   * `onWriteError` hears why writes fail (a full or read-only disk), once a minute at most.
   */
  static async open(
    dir: string,
    maxBytes: number,
    onWriteError: (reason: string) => void = () => {},
  ): Promise<ResultDirectory> {
    await Deno.mkdir(dir, { recursive: true });
    const directory = new ResultDirectory(dir, maxBytes, onWriteError);
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
    await Promise.all(directory.#removals);
    return directory;
  }

  /** Files and the disk space they take, for /health. */
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
   * leaves a half-written result), evicting older files beyond the bound. A full or
   * read-only disk costs the disk tier, never the request: failures are told to
   * `onWriteError`, and a directory removed while running is made again.
   */
  async write(key: string, file: Uint8Array): Promise<void> {
    if (diskBytes(file.byteLength) > this.maxBytes) return;
    const path = join(this.dir, key);
    const temporary = `${path}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeFile(temporary, file).catch(async (error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        await Deno.mkdir(this.dir, { recursive: true });
        await Deno.writeFile(temporary, file);
      });
      await Deno.rename(temporary, path);
      this.#files.set(key, file.byteLength);
      await Promise.all(this.#removals);
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      // The disk filled before the bound did (it is smaller than the bound, or shared): the
      // least recently used files make room for the next results, as the bound would have,
      // instead of the tier keeping its old files and storing nothing new.
      const full = (error as { code?: string }).code === "ENOSPC";
      if (full) this.#files.evictBytes(diskBytes(file.byteLength));
      await Promise.all(this.#removals);
      this.#failed(error, full ? "; removing the least recently used files to make room" : "");
    }
  }

  #failed(error: unknown, note: string): void {
    this.#reported.failures++;
    const now = performance.now();
    if (now - this.#reported.at < REPORT_EVERY_MS) return;
    const { failures } = this.#reported;
    this.#reported = { at: now, failures: 0 };
    const since = failures > 1 ? ` (${failures} writes failed since the last report)` : "";
    this.onWriteError(`${(error as Error)?.message ?? error}${note}${since}`);
  }
}
