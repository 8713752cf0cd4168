import { isNotModified } from "./conditional.ts";
import type { Config } from "./config.ts";
import { HttpError, MethodNotAllowed, NotFound, Unavailable } from "./errors.ts";
import { contentTypes } from "./formats.ts";
import type { Logger } from "./log.ts";
import type { WorkerPool } from "./pool.ts";
import type { ResultCache } from "./result_cache.ts";
import { resultKey } from "./result_key.ts";
import { SingleFlight } from "./single_flight.ts";
import type { SourceLoader } from "./sources.ts";
import { type Job, type JobContext, parseJob } from "./url.ts";

/** What the HTTP handler works with; built once at start-up. */
export interface ServerDeps {
  config: Config;
  sources: SourceLoader;
  results: ResultCache;
  pool: WorkerPool;
  log: Logger;
}

/** The outcome of one request, for the access log. */
interface Outcome {
  response: Response;
  detail?: string;
}

/** Per-handler state that is not configuration. */
interface Runtime extends ServerDeps {
  context: JobContext;
  flights: SingleFlight<Uint8Array<ArrayBuffer>>;
}

/**
 * The `Deno.serve` handler: routes GET and HEAD under `http.root` and `/health`, and maps
 * every error to a status and a short plain-text reason. It never touches pixels.
 */
export function createHandler(deps: ServerDeps): (request: Request) => Promise<Response> {
  const { config, log } = deps;
  const runtime: Runtime = {
    ...deps,
    context: { ...config.image, presets: config.presets, defaultQuality: config.image.quality },
    flights: new SingleFlight(),
  };
  return async function handleRequest(request) {
    const started = performance.now();
    const id = crypto.randomUUID().slice(0, 8);
    const url = new URL(request.url);
    let outcome: Outcome;
    try {
      outcome = await route(request, url, runtime);
    } catch (error) {
      outcome = { response: errorResponse(error, id, log) };
    }
    const { response, detail } = outcome;
    const ms = (performance.now() - started).toFixed(1);
    const bytes = response.headers.get("content-length") ?? "-";
    log.debug(
      `${id} ${request.method} ${url.pathname} ${response.status} ${bytes}B ${ms}ms${
        detail ? ` ${detail}` : ""
      }`,
    );
    return request.method === "HEAD" ? new Response(null, response) : response;
  };
}

function route(request: Request, url: URL, runtime: Runtime): Promise<Outcome> | Outcome {
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new MethodNotAllowed(`Method ${request.method} is not allowed: use GET or HEAD`);
  }
  if (url.pathname === "/health") return { response: health(runtime) };
  const root = runtime.config.http.root;
  if (!url.pathname.startsWith(`${root}/`)) throw new NotFound(`Nothing at "${url.pathname}"`);
  const job = parseJob(url.pathname.slice(root.length), runtime.context);
  return serveImage(request, job, runtime);
}

async function serveImage(request: Request, job: Job, runtime: Runtime): Promise<Outcome> {
  const { config, sources, results, pool, flights } = runtime;
  const signal = AbortSignal.timeout(config.http.timeoutMs);
  try {
    const source = await sources.load(job.storage, job.path, signal);
    const key = resultKey(job, source.validator, config.backend);
    const etag = `"${key}"`;
    const headers = new Headers({
      "content-type": contentTypes[job.format.type],
      "etag": etag,
      "cache-control": config.http.cacheControl,
    });
    if (source.modified) headers.set("last-modified", source.modified.toUTCString());
    const chain = job.chain.map((s) => `${s.name}:${JSON.stringify(s.params)}`).join(" ");
    const detail = (result: string) =>
      `chain=[${chain}] source-cache=${source.cache} result=${result}`;
    if (isNotModified(request, etag, source.modified)) {
      return { response: new Response(null, { status: 304, headers }), detail: detail("304") };
    }
    const cached = await results.get(key);
    const cache = cached ? "hit" : "miss";
    const output = cached ?? await flights.run(key, async () => {
      const bytes = await pool.run({ chain: job.chain, format: job.format }, source.bytes, signal);
      await results.set(key, bytes);
      return bytes;
    });
    headers.set("content-length", String(output.byteLength));
    headers.set("x-cache", cache);
    return { response: new Response(output, { headers }), detail: detail(cache) };
  } catch (error) {
    // A storage read cut short by the deadline fails with its own error; the cause is time.
    if (signal.aborted && !(error instanceof HttpError)) {
      throw new Unavailable("The request timed out: try again shortly");
    }
    throw error;
  }
}

function health({ pool, sources, results }: Runtime): Response {
  const body = {
    status: "ok",
    ...pool.stats(),
    caches: { source: sources.stats(), result: results.stats() },
  };
  return Response.json(body, { headers: { "cache-control": "no-store" } });
}

function errorResponse(error: unknown, id: string, log: Logger): Response {
  const known = error instanceof HttpError ? error : undefined;
  // Overload (503) is expected under load; every other server-side failure is worth a line.
  if (!known || (known.status >= 500 && known.status !== 503)) {
    const detail = (error as { detail?: string })?.detail ?? (error as Error)?.stack ?? error;
    log.error(`${id} ${known ? known.status : 500}: ${detail}`);
  }
  const status = known?.status ?? 500;
  const message = known?.message ?? "Internal error";
  const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
  if (status === 503) headers.set("retry-after", "1");
  if (status === 405) headers.set("allow", "GET, HEAD");
  if (status === 500) headers.set("x-request-id", id);
  return new Response(`${message}\n`, { status, headers });
}
