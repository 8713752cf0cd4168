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
 * Reads a response body of at most `maxBytes`: refused early by its Content-Length, and
 * counted while streaming since that header may be absent or wrong. Cancels what is left.
 *
 * @throws {TooLarge} past `maxBytes`
 */
export async function readCapped(
  response: Response,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(response.headers.get("content-length"));
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new TooLarge(`Source is ${declared} bytes: at most ${maxBytes} allowed`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += chunk.byteLength;
    // Leaving the loop early cancels the stream.
    if (total > maxBytes) throw new TooLarge(`Source exceeds ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
