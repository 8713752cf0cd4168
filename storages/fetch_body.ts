// What the storages that fetch over HTTP share: their upstream config keys, path encoding,
// the deadline and the capped body read.
import { ConfigError } from "../lib/config/config.ts";
import type { ConfigReader } from "../lib/config/reader.ts";
import { BadGateway, GatewayTimeout, HttpError, NotFound, TooLarge } from "../lib/errors.ts";

/**
 * Reads an http(s) URL that relative paths get appended to; its path always ends in "/".
 *
 * @throws {ConfigError} for another scheme, a query or a fragment
 */
export function readBaseUrl(reader: ConfigReader, key: string): URL {
  const text = reader.string(key);
  const url = URL.parse(text);
  if (!url || !["http:", "https:"].includes(url.protocol) || url.search || url.hash) {
    throw new ConfigError(
      `"${reader.name(key)}" must be an http or https URL without query or fragment, not "${text}"`,
    );
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/** The per-request `timeout` of a storage: 10 s unless configured, at most an hour. */
export function readTimeout(reader: ConfigReader): number {
  return reader.duration("timeout", "10s", "1h");
}

/**
 * Percent-encodes a relative path segment by segment, to append to a base URL's text.
 * The URL parser resolves `.` and `..` (even as `%2e`), so those segments are refused.
 *
 * @throws {NotFound} for a dot segment
 */
export function encodePath(path: string): string {
  const segments = path.split("/");
  if (segments.some((s) => s === "." || s === "..")) throw new NotFound(`No file "${path}"`);
  return segments.map(encodeURIComponent).join("/");
}

/**
 * Runs `work` with a signal that fires after `timeoutMs` or when `outer` aborts. Our own
 * timeout becomes GatewayTimeout and network failures BadGateway; an abort of `outer` (the
 * server's deadline) is rethrown unchanged, since the server already knows what it means.
 *
 * @throws {GatewayTimeout} when upstream takes longer than `timeoutMs`
 * @throws {BadGateway} when the request fails without an answer
 */
export async function withDeadline<T>(
  timeoutMs: number,
  outer: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timer = AbortSignal.timeout(timeoutMs);
  try {
    return await work(outer ? AbortSignal.any([timer, outer]) : timer);
  } catch (error) {
    if (outer?.aborted || error instanceof HttpError) throw error;
    if (timer.aborted) throw new GatewayTimeout(`Upstream did not answer within ${timeoutMs} ms`);
    // The detail (refused, reset, DNS) stays out of the public message.
    throw Object.assign(new BadGateway("Upstream request failed"), { cause: error });
  }
}

/** The Last-Modified date of a response, when it has a valid one. */
export function lastModified(headers: Headers): Date | undefined {
  const date = new Date(headers.get("last-modified") ?? NaN);
  return isNaN(date.getTime()) ? undefined : date;
}

/**
 * The content codings asked for on every upstream request. Deno's fetch decodes these itself,
 * a few KiB at a time as the body is read, so a compression bomb never grows past what we
 * read; it leaves any other coding (deflate, zstd…) encoded, and those are refused.
 */
export const acceptEncoding = "gzip, br";
const decodedCodings = new Set(["identity", "gzip", "br"]);

/** The first buffer when the decoded length is unknown; it doubles from there. */
const initialCapacity = 256 * 1024;
/** The read past a full buffer, which tells the end of the body from more of it. */
const probeBytes = 16 * 1024;

/**
 * Reads a response body of at most `maxBytes` decoded bytes into one buffer, without keeping
 * the stream's chunks: an exact-size buffer when the body is unencoded and its Content-Length
 * is within the limit, otherwise a buffer that doubles up to the limit and is trimmed once at
 * the end. A Content-Length past the limit is refused before reading; the stream is still
 * counted, since that header may be absent or wrong, and an encoded body's Content-Length
 * says nothing about its decoded size. Stops at once, cancelling the stream, when `signal`
 * aborts or on any error. `response` comes from fetch, whose body is a byte stream (a BYOB
 * reader lets it write into our buffer).
 *
 * @throws {TooLarge} past `maxBytes`
 * @throws {BadGateway} for a content coding other than gzip or br
 * @throws whatever `reserve` throws, called before each allocation with its size
 */
export async function readCapped(
  response: Response,
  maxBytes: number,
  signal?: AbortSignal,
  reserve?: (bytes: number) => void,
): Promise<Uint8Array<ArrayBuffer>> {
  const coding = (response.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  const declared = coding === "identity" ? declaredLength(response.headers) : undefined;
  if (!decodedCodings.has(coding)) {
    await response.body?.cancel();
    throw new BadGateway(
      `Upstream sent Content-Encoding "${coding.slice(0, 100)}": only gzip and br are accepted`,
    );
  }
  if (declared !== undefined && declared > maxBytes) {
    await response.body?.cancel();
    throw new TooLarge(`Source is ${declared} bytes: at most ${maxBytes} allowed`);
  }
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader({ mode: "byob" });
  // Cancelling ends a pending read at once; the loop then sees the abort.
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort);
  try {
    const capacity = declared ?? Math.min(initialCapacity, maxBytes);
    return await readInto(reader, capacity, maxBytes, signal, reserve);
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Content-Length as a number, when it is a plain decimal. */
function declaredLength(headers: Headers): number | undefined {
  const text = headers.get("content-length")?.trim() ?? "";
  return /^\d{1,16}$/.test(text) ? Number(text) : undefined;
}

/**
 * Reads the stream straight into `capacity` bytes (BYOB: the stream writes into our buffer,
 * no chunk is allocated), growing by doubling up to `maxBytes` when they do not suffice.
 */
async function readInto(
  reader: ReadableStreamBYOBReader,
  capacity: number,
  maxBytes: number,
  signal: AbortSignal | undefined,
  reserve: ((bytes: number) => void) | undefined,
): Promise<Uint8Array<ArrayBuffer>> {
  reserve?.(capacity);
  let buffer = new ArrayBuffer(capacity);
  let probe = new ArrayBuffer(probeBytes);
  let length = 0;
  signal?.throwIfAborted();
  for (;;) {
    // Past a full buffer, a small read tells the end of the body from more of it.
    const full = length === buffer.byteLength;
    // The read transfers the buffer under the view and gives it back, filled a little further.
    const { done, value } = await reader.read(
      full ? new Uint8Array(probe) : new Uint8Array(buffer, length),
    );
    // A cancelled read is "done" without giving the buffer back: the abort says why.
    signal?.throwIfAborted();
    if (!full && value) buffer = value.buffer;
    if (done) break;
    if (!full) {
      length += value.byteLength;
      continue;
    }
    probe = value.buffer;
    if (length + value.byteLength > maxBytes) {
      throw new TooLarge(`Source exceeds ${maxBytes} bytes`);
    }
    const grown = Math.min(
      Math.max(2 * length, length + value.byteLength, initialCapacity),
      maxBytes,
    );
    reserve?.(grown - buffer.byteLength);
    buffer = buffer.transfer(grown);
    new Uint8Array(buffer).set(value, length);
    length += value.byteLength;
  }
  // Trimming may reallocate: the one copy of a body whose length was not known.
  return new Uint8Array(length === buffer.byteLength ? buffer : buffer.transfer(length));
}
