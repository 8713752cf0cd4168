import { isNotModified } from "./conditional.ts";
import type { Config } from "../config/config.ts";
import { HttpError, Unavailable } from "../errors.ts";
import { contentTypes, negotiate } from "../image/formats.ts";
import type { WorkerPool } from "../pool/pool.ts";
import type { ResultCache } from "../cache/results.ts";
import { resultKey } from "../jobs/identity.ts";
import type { SingleFlight } from "../cache/single_flight.ts";
import { sniffEncoded } from "../image/sniff.ts";
import type { LoadedSource, SourceLoader } from "../cache/sources.ts";
import type { Job } from "../jobs/url.ts";

/** What serving an image needs. */
export interface ImageDeps {
  config: Config;
  sources: SourceLoader;
  results: ResultCache;
  pool: WorkerPool;
  flights: SingleFlight<Uint8Array<ArrayBuffer>>;
}

/** An image response and how it was made, for the log and the metrics. */
export interface ImageOutcome {
  response: Response;
  source: LoadedSource;
  result: "hit" | "miss" | "not-modified";
}

/**
 * Answers one image job: source (through its cache), then a 304, a cached result, or the
 * worker pool, all within `http.timeout`.
 *
 * @throws {HttpError} for every failure, Unavailable (503) when time ran out
 */
export async function serveImage(
  request: Request,
  job: Job,
  deps: ImageDeps,
): Promise<ImageOutcome> {
  const { config, sources, results, pool, flights } = deps;
  // A timer cleared when the request ends: AbortSignal.timeout would leave one pending per
  // request for the whole timeout, which costs a busy server dearly.
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new DOMException("Request deadline", "TimeoutError")),
    config.http.timeoutMs,
  );
  const signal = deadline.signal;
  try {
    const source = await sources.load(job.storage, job.path, signal);
    const format = {
      ...negotiate(job.format, request.headers.get("accept"), config.image.autoAvif),
      progressive: config.image.progressive,
      background: config.image.background,
    };
    const variant = `${config.backend}/${config.image.autoOrient ? "upright" : "stored"}`;
    const key = resultKey({ ...job, format }, source.validator, variant);
    const etag = `"${key}"`;
    const headers = new Headers({ "etag": etag, "cache-control": config.http.cacheControl });
    if (job.format.type === "auto") headers.set("vary", "Accept");
    if (source.modified) headers.set("last-modified", source.modified.toUTCString());
    if (isNotModified(request, etag, source.modified)) {
      return {
        response: new Response(null, { status: 304, headers }),
        source,
        result: "not-modified",
      };
    }
    const cached = await results.get(key);
    const output = cached ?? await flights.run(key, async () => {
      const bytes = await pool.run(
        {
          chain: job.chain,
          format,
          limits: config.image,
          autoOrient: config.image.autoOrient,
        },
        source.bytes,
        signal,
      );
      await results.set(key, bytes);
      return bytes;
    });
    const result = cached ? "hit" : "miss";
    // `auto` decides the format in the worker; the bytes say which it chose.
    headers.set("content-type", contentTypes[sniffEncoded(output)!]);
    headers.set("content-length", String(output.byteLength));
    headers.set("x-cache", result);
    return { response: new Response(output, { headers }), source, result };
  } catch (error) {
    // A storage read cut short by the deadline fails with its own error; the cause is time.
    if (signal.aborted && !(error instanceof HttpError)) {
      throw new Unavailable("The request timed out: try again shortly");
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
