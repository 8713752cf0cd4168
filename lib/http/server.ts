import { checkSignature, checkToken } from "./access.ts";
import { formatAccess } from "./access_log.ts";
import type { Config } from "../config/config.ts";
import { errorType, HttpError, MethodNotAllowed, NotFound } from "../errors.ts";
import type { Logger } from "../log.ts";
import { metricsContentType, type MetricsRegistry, type ServerMetrics } from "./metrics.ts";
import type { WorkerPool } from "../pool/pool.ts";
import type { ResultCache } from "../cache/results.ts";
import { type ImageOutcome, serveImage } from "./image_route.ts";
import { SingleFlight } from "../cache/single_flight.ts";
import type { SourceLoader } from "../cache/sources.ts";
import { type JobContext, parseJob } from "../jobs/url.ts";

/** What a reload (SIGHUP) may replace; one request uses one snapshot from start to end. */
export interface ServerState {
  config: Config;
  sources: SourceLoader;
  context: JobContext;
}

/** Builds the per-config state of the handler. */
export function serverState(config: Config, sources: SourceLoader): ServerState {
  const context = {
    ...config.image,
    presets: config.presets,
    defaultQuality: config.image.quality,
  };
  return { config, sources, context };
}

/** What the HTTP handler works with; built once at start-up. */
export interface ServerDeps {
  current(): ServerState;
  results: ResultCache;
  pool: WorkerPool;
  log: Logger;
  registry: MetricsRegistry;
  metrics: ServerMetrics;
}

interface Routed {
  response: Response;
  image?: ImageOutcome;
  chain?: string;
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The `Deno.serve` handler: routes GET and HEAD under `http.root`, `/health` and the metrics
 * path, maps every error to a status and a short plain-text reason, and writes the access log
 * and the request metrics. It never touches pixels.
 */
export function createHandler(deps: ServerDeps): (request: Request) => Promise<Response> {
  const { log } = deps;
  const flights = new SingleFlight<Uint8Array<ArrayBuffer>>();
  return async function handleRequest(request) {
    const started = performance.now();
    const given = request.headers.get("x-request-id");
    const id = given && requestIdPattern.test(given) ? given : crypto.randomUUID();
    const url = new URL(request.url);
    const state = deps.current();
    let routed: Routed;
    try {
      routed = await route(request, url, { ...deps, ...state, flights });
    } catch (error) {
      routed = { response: errorResponse(error, id, log) };
    }
    const { response, image } = routed;
    response.headers.set("x-request-id", id);
    const seconds = (performance.now() - started) / 1000;
    record(deps, response.status, seconds, image);
    log.line(formatAccess(
      {
        id,
        method: request.method,
        path: url.pathname,
        status: response.status,
        bytes: Number(response.headers.get("content-length") ?? 0),
        ms: seconds * 1000,
        cache: image && `source=${image.source.cache} result=${image.result}`,
        chain: routed.chain,
      },
      state.config.log.format,
      log.verbose,
    ));
    return request.method === "HEAD" ? new Response(null, response) : response;
  };
}

type RouteDeps = ServerDeps & ServerState & { flights: SingleFlight<Uint8Array<ArrayBuffer>> };

async function route(request: Request, url: URL, deps: RouteDeps): Promise<Routed> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new MethodNotAllowed(`Method ${request.method} is not allowed: use GET or HEAD`);
  }
  if (url.pathname === "/health") return { response: health(deps) };
  const { http, security } = deps.config;
  checkToken(request, security.token);
  if (url.pathname === http.metricsPath && !http.metricsPort) {
    return { response: metricsResponse(deps.registry) };
  }
  if (!url.pathname.startsWith(`${http.root}/`)) {
    throw new NotFound(`Nothing at "${url.pathname}"`);
  }
  const rest = await checkSignature(url.pathname.slice(http.root.length), security);
  const job = parseJob(rest, deps.context);
  const image = await serveImage(request, job, deps);
  // Only -debug logs the chain; don't spell it out for every request otherwise.
  const chain = deps.log.verbose
    ? job.chain.map((s) => `${s.name}:${JSON.stringify(s.params)}`).join(" ")
    : undefined;
  return { response: image.response, image, chain };
}

/** Counts one finished request in the metrics. */
function record(deps: ServerDeps, status: number, seconds: number, image?: ImageOutcome) {
  const { metrics } = deps;
  metrics.requests.inc({ status: String(status) });
  metrics.requestDuration.observe(seconds);
  if (status >= 400) metrics.errors.inc({ type: errorType(status) });
  if (!image) return;
  const sourceCounter = image.source.cache === "hit" ? metrics.cacheHits : metrics.cacheMisses;
  sourceCounter.inc({ cache: "source" });
  if (image.source.cache === "miss") {
    metrics.sourceBytes.inc({ storage: image.source.storage }, image.source.bytes.byteLength);
  }
  if (image.result !== "not-modified") {
    (image.result === "hit" ? metrics.cacheHits : metrics.cacheMisses).inc({ cache: "result" });
  }
}

function health({ pool, sources, results }: RouteDeps): Response {
  const stats = pool.stats();
  // A worker that did not stop after its job was cancelled still burns a core: unhealthy.
  const body = {
    status: stats.stuck ? "unhealthy" : "ok",
    ...stats,
    caches: { source: sources.stats(), result: results.stats() },
  };
  const status = stats.stuck ? 503 : 200;
  return Response.json(body, { status, headers: { "cache-control": "no-store" } });
}

/**
 * The handler of the separate metrics port (`http.metricsPort`): only the metrics path, under
 * the same token rule as the main port.
 */
export function createMetricsHandler(
  deps: Pick<ServerDeps, "current" | "registry" | "log">,
): (request: Request) => Response {
  return function handleMetrics(request) {
    try {
      const { http, security } = deps.current().config;
      const path = new URL(request.url).pathname;
      if (path !== http.metricsPath) throw new NotFound(`Nothing at "${path}"`);
      checkToken(request, security.token);
      return metricsResponse(deps.registry);
    } catch (error) {
      return errorResponse(error, crypto.randomUUID(), deps.log);
    }
  };
}

/** The Prometheus text of the registry. */
function metricsResponse(registry: MetricsRegistry): Response {
  return new Response(registry.render(), {
    headers: { "content-type": metricsContentType, "cache-control": "no-store" },
  });
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
  return new Response(`${message}\n`, { status, headers });
}
