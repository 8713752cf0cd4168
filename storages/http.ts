import { ConfigError, maxSourceByteLimit } from "../lib/config/config.ts";
import type { ConfigReader } from "../lib/config/reader.ts";
import { BadGateway, NotFound } from "../lib/errors.ts";
import {
  acceptEncoding,
  encodePath,
  lastModified,
  readBaseUrl,
  readCapped,
  readTimeout,
  withDeadline,
} from "./fetch_body.ts";
import type { GetOptions, Source, StorageFactory } from "./storage.ts";

const maxRedirects = 3;
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

interface HttpSettings {
  base: URL;
  timeoutMs: number;
  maxBytes: number;
  headers: Record<string, string>;
}

/**
 * Files under a base URL, fetched over HTTP(S) and revalidated with the upstream ETag or
 * Last-Modified. Requests and redirects never leave the base URL's origin and path.
 *
 * @throws {ConfigError} for a bad `baseUrl`, `timeout`, `maxBytes` or `headers`
 */
export const createHttpStorage: StorageFactory = (config) =>
  // Promise.try turns a bad key into a rejection, as from an async factory.
  Promise.try(() => {
    const settings = readSettings(config.reader);
    return { get: (path, options) => getHttp(settings, path, options) };
  });

function readSettings(reader: ConfigReader): HttpSettings {
  const settings = {
    base: readBaseUrl(reader, "baseUrl"),
    timeoutMs: readTimeout(reader),
    // Bounded like image.maxSourceBytes, which applies as well.
    maxBytes: reader.integer("maxBytes", maxSourceByteLimit, 1, maxSourceByteLimit),
    headers: reader.stringMap("headers"),
  };
  reader.rejectUnknown();
  try {
    new Headers(settings.headers);
  } catch (error) {
    throw new ConfigError(`"${reader.name("headers")}": ${(error as Error).message}`);
  }
  return settings;
}

function getHttp(
  settings: HttpSettings,
  path: string,
  options: GetOptions,
): Promise<Source | "not-modified"> {
  return withDeadline(settings.timeoutMs, options.signal, async (signal) => {
    // Appended as text: resolving it as a relative URL would let "//host" pick another host.
    const url = new URL(settings.base.href + encodePath(path));
    const headers = new Headers(settings.headers);
    headers.set("Accept-Encoding", acceptEncoding);
    const [kind, value] = splitValidator(options.validator);
    if (kind === "etag") headers.set("If-None-Match", value);
    if (kind === "lm") headers.set("If-Modified-Since", value);
    const response = await fetchFollowing(url, settings.base, { headers, signal });
    if (response.status === 304 && options.validator) {
      await response.body?.cancel();
      return "not-modified";
    }
    if (!response.ok) {
      await response.body?.cancel();
      if (response.status === 404 || response.status === 410) {
        throw new NotFound(`No file "${path}"`);
      }
      throw new BadGateway(`Upstream answered ${response.status} for "${path}"`);
    }
    const maxBytes = Math.min(settings.maxBytes, options.maxBytes);
    const bytes = await readCapped(response, maxBytes, signal, options.reserve);
    const validator = await validatorOf(response.headers, bytes);
    if (validator === options.validator) return "not-modified";
    return { bytes, validator, modified: lastModified(response.headers) };
  });
}

/** Follows up to `maxRedirects` redirects, each only to a URL under `base`. */
async function fetchFollowing(url: URL, base: URL, init: RequestInit): Promise<Response> {
  for (let hop = 0;; hop++) {
    const response = await fetch(url, { ...init, redirect: "manual" });
    if (!redirectStatuses.has(response.status)) return response;
    await response.body?.cancel();
    if (hop === maxRedirects) {
      throw new BadGateway(`Upstream redirected more than ${maxRedirects} times`);
    }
    const location = response.headers.get("location");
    if (location === null) throw new BadGateway("Upstream sent a redirect without a location");
    const next = URL.parse(location, url);
    if (!next || !isUnder(next, base)) {
      throw new BadGateway("Upstream redirected outside its base URL");
    }
    url = next;
  }
}

/**
 * True when `url` is on `base`'s origin and under its path however the origin reads the path:
 * as sent (URL has resolved `.` and `..`, `%2e` included), and percent-decoded once or more,
 * where `%2F` and `%5C` become separators and dot segments appear anew
 * (`/images/..%2fsecret.png` is `/secret.png` to an origin that decodes `%2F`).
 */
function isUnder(url: URL, base: URL): boolean {
  if (url.origin !== base.origin) return false;
  let [path, basePath] = [url.pathname, base.pathname];
  for (let round = 0; round < maxDecodings; round++) {
    if (!resolveDots(path).startsWith(resolveDots(basePath))) return false;
    const [decodedPath, decodedBase] = [decodeOnce(path), decodeOnce(basePath)];
    // Nothing left to decode, or nothing an origin could decode: every reading was checked.
    if (decodedPath === path && decodedBase === basePath) return true;
    [path, basePath] = [decodedPath, decodedBase];
  }
  // Still encoded after that many rounds: no real file name needs it.
  return false;
}

/** Readings of a redirect target checked: as sent, and decoded up to twice. */
const maxDecodings = 3;

/** The path percent-decoded once; as it is when it holds a malformed escape. */
function decodeOnce(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Resolves `.` and `..` segments the strictest way servers do: a backslash is a separator
 * too, and empty segments are merged (as nginx does), so `/a//../b` is `/b`.
 */
function resolveDots(path: string): string {
  const segments: string[] = [];
  for (const segment of path.replaceAll("\\", "/").split("/")) {
    if (segment === "..") segments.pop();
    else if (segment !== "" && segment !== ".") segments.push(segment);
  }
  const resolved = `/${segments.join("/")}`;
  return path.endsWith("/") && segments.length > 0 ? `${resolved}/` : resolved;
}

/**
 * The validator says which kind it is, so a revalidation sends the matching header; without
 * either header, a digest of the bytes still lets unchanged content keep its cached results.
 */
async function validatorOf(headers: Headers, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const etag = headers.get("etag");
  if (etag) return `etag:${etag}`;
  const date = headers.get("last-modified");
  if (date) return `lm:${date}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function splitValidator(validator = ""): [string, string] {
  const colon = validator.indexOf(":");
  return [validator.slice(0, colon), validator.slice(colon + 1)];
}
