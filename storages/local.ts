import { dirname, resolve, sep } from "node:path";
import { ConfigError, type StorageConfig } from "../lib/config/config.ts";
import { Forbidden, NotFound, TooLarge } from "../lib/errors.ts";
import type { GetOptions, Source, Storage } from "./storage.ts";

/** Files under a directory; symlinks that lead outside it are refused. */
export async function createLocalStorage(config: StorageConfig, baseDir: string): Promise<Storage> {
  const dir = resolve(baseDir, config.reader.string("path"));
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
  return {
    get: (path, options) => readLocal(root, path, options),
    put: (path, bytes, signal) => writeLocal(root, path, bytes, signal),
  };
}

async function readLocal(
  root: string,
  path: string,
  options: GetOptions,
): Promise<Source | "not-modified"> {
  const target = resolve(root, path);
  // A cached copy was checked to lie inside the root when it was read, so a revalidation needs
  // the stat only; a read needs both, asked at once: each is a round trip to a blocking thread,
  // which on a busy machine costs more than the call itself.
  const real = options.validator === undefined ? Deno.realPath(target).catch(() => "") : undefined;
  const info = await statFile(target);
  if (!info?.isFile) throw new NotFound(`No file "${path}"`);
  const validator = `${info.size.toString(36)}-${(info.mtime?.getTime() ?? 0).toString(36)}`;
  // A changed file (or a swapped symlink) changes the validator.
  if (validator === options.validator) return "not-modified";
  const realPath = await (real ?? Deno.realPath(target).catch(() => ""));
  // realPath resolved every symlink, so this is where the bytes really are.
  if (!realPath.startsWith(root + sep)) throw new NotFound(`No file "${path}"`);
  if (info.size > options.maxBytes) {
    throw new TooLarge(`Source is ${info.size} bytes: at most ${options.maxBytes} allowed`);
  }
  options.reserve?.(info.size);
  const bytes = options.shared
    ? await readShared(realPath, info.size, options.signal)
    : await Deno.readFile(realPath, { signal: options.signal });
  return { bytes, validator, modified: info.mtime ?? undefined };
}

/**
 * Reads `size` bytes of a file straight into shared memory, where the pool's workers read
 * sources: no copy on the way. A file that shrank since its stat gives what it still has.
 */
async function readShared(
  path: string,
  size: number,
  signal?: AbortSignal,
): Promise<Uint8Array<SharedArrayBuffer>> {
  using file = await Deno.open(path);
  const bytes = new Uint8Array(new SharedArrayBuffer(size));
  for (let at = 0; at < size;) {
    signal?.throwIfAborted();
    const read = await file.read(bytes.subarray(at));
    if (read === null) return bytes.subarray(0, at);
    at += read;
  }
  return bytes;
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

/**
 * The stat that revalidates every cached source. Asynchronous, so a slow disk (a network
 * mount, a busy device) delays only its own request, never the event loop; it costs the main
 * thread about 12 µs instead of 3, and concurrent requests for one source share one `get`
 * (the source loader's single flight), so a popular file is not stat'ed once per request.
 */
async function statFile(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch {
    return undefined;
  }
}
