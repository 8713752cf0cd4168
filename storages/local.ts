import { dirname, resolve, sep } from "node:path";
import { ConfigError, type StorageConfig } from "../lib/config/config.ts";
import { Forbidden, NotFound, TooLarge } from "../lib/errors.ts";
import type { GetOptions, Source, Storage } from "./storage.ts";

/**
 * Files under a directory; symlinks that lead outside it are refused. `io` says where its file
 * calls run: `threads` (the default) on Deno's blocking threads, so a disk that stalls (a network
 * mount) delays only its own requests; `sync` on the HTTP thread, as nginx reads files, for a
 * local disk: a stat or a page-cache read takes microseconds there, where handing each call to a
 * blocking thread and back costs a wake-up of two threads (0.2–0.3 ms per call on a busy machine,
 * measured), but a stalled disk stalls every request. Even under `sync`, a file over
 * SYNC_READ_MAX bytes is read on a thread, so one large source does not hold the HTTP thread for
 * milliseconds.
 */
export async function createLocalStorage(config: StorageConfig, baseDir: string): Promise<Storage> {
  const dir = resolve(baseDir, config.reader.string("path"));
  const io = config.reader.oneOf("io", "threads", ["threads", "sync"] as const);
  config.reader.rejectUnknown();
  let root: string;
  try {
    root = await Deno.realPath(dir);
    if (!(await Deno.stat(root)).isDirectory) throw new Error("not a directory");
  } catch (error) {
    throw new ConfigError(
      `"${config.reader.name("path")}": cannot use "${dir}": ${(error as Error).message}`,
    );
  }
  const calls = io === "sync" ? syncCalls : threadedCalls;
  return {
    get: (path, options) => readLocal(root, path, options, calls),
    put: (path, bytes, signal) => writeLocal(root, path, bytes, signal),
  };
}

/** A file that the `sync` mode still reads on a thread: 4 MiB, about 1 ms from the page cache. */
const SYNC_READ_MAX = 4 * 2 ** 20;

/** The file calls a read makes, in one of the two modes. */
interface FileCalls {
  /** The file's information; undefined when there is nothing at `path`. */
  stat(path: string): Promise<Deno.FileInfo | undefined>;
  /** The path with every symlink resolved; "" when it cannot be resolved. */
  realPath(path: string): Promise<string>;
  /** `size` bytes of the file, in shared memory when `shared`. */
  read(path: string, size: number, shared: boolean, signal?: AbortSignal): Promise<Uint8Array>;
}

const threadedCalls: FileCalls = {
  async stat(path) {
    try {
      return await Deno.stat(path);
    } catch {
      return undefined;
    }
  },
  realPath: (path) => Deno.realPath(path).catch(() => ""),
  async read(path, size, shared, signal) {
    if (!shared) return await Deno.readFile(path, { signal });
    using file = await Deno.open(path);
    return await readInto(newBuffer(size, shared), (view) => file.read(view), signal);
  },
};

const syncCalls: FileCalls = {
  stat(path) {
    try {
      return Promise.resolve(Deno.statSync(path));
    } catch {
      return Promise.resolve(undefined);
    }
  },
  realPath(path) {
    try {
      return Promise.resolve(Deno.realPathSync(path));
    } catch {
      return Promise.resolve("");
    }
  },
  async read(path, size, shared, signal) {
    if (size > SYNC_READ_MAX) return await threadedCalls.read(path, size, shared, signal);
    using file = Deno.openSync(path);
    return await readInto(newBuffer(size, shared), (view) => file.readSync(view), signal);
  },
};

/**
 * Shared memory is where the pool's workers read sources: a source read straight into it needs
 * no copy on the way.
 */
function newBuffer(size: number, shared: boolean): Uint8Array {
  return new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
}

/**
 * Fills `bytes` by successive `read`s (each answers how many bytes it read, or null at the end);
 * a file that shrank since its stat gives what it has.
 */
async function readInto(
  bytes: Uint8Array,
  read: (view: Uint8Array) => Promise<number | null> | number | null,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  for (let at = 0; at < bytes.length;) {
    signal?.throwIfAborted();
    const count = await read(bytes.subarray(at));
    if (count === null) return bytes.subarray(0, at);
    at += count;
  }
  return bytes;
}

async function readLocal(
  root: string,
  path: string,
  options: GetOptions,
  calls: FileCalls,
): Promise<Source | "not-modified"> {
  const target = resolve(root, path);
  // A cached copy was checked to lie inside the root when it was read, so a revalidation needs
  // the stat only; a read needs both, asked at once.
  const real = options.validator === undefined ? calls.realPath(target) : undefined;
  const info = await calls.stat(target);
  if (!info?.isFile) throw new NotFound(`No file "${path}"`);
  const validator = `${info.size.toString(36)}-${(info.mtime?.getTime() ?? 0).toString(36)}`;
  // A changed file (or a swapped symlink) changes the validator.
  if (validator === options.validator) return "not-modified";
  const realPath = await (real ?? calls.realPath(target));
  // realPath resolved every symlink, so this is where the bytes really are.
  if (!realPath.startsWith(root + sep)) throw new NotFound(`No file "${path}"`);
  if (info.size > options.maxBytes) {
    throw new TooLarge(`Source is ${info.size} bytes: at most ${options.maxBytes} allowed`);
  }
  options.reserve?.(info.size);
  const bytes = await calls.read(realPath, info.size, options.shared === true, options.signal);
  return { bytes, validator, modified: info.mtime ?? undefined };
}

/**
 * Writes a file under the root through a temporary name in the same directory and a rename,
 * so a reader (another instance on a shared volume) sees the old file or the new, never half.
 *
 * @throws {Forbidden} for a path outside the root
 */
async function writeLocal(
  root: string,
  path: string,
  bytes: Uint8Array<ArrayBuffer>,
  signal?: AbortSignal,
): Promise<void> {
  const target = resolve(root, path);
  if (!target.startsWith(root + sep)) {
    throw new Forbidden(`Cannot write outside the storage: "${path}"`);
  }
  await Deno.mkdir(dirname(target), { recursive: true });
  const temporary = `${target}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeFile(temporary, bytes, { signal });
    await Deno.rename(temporary, target);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
