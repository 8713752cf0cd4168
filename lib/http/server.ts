import { MethodNotAllowed, NotFound } from "../errors.ts";
import { checkToken } from "./access.ts";
import type { ServerDeps } from "./deps.ts";
import { errorResponse } from "./error_response.ts";
import { serveImage } from "./image_route.ts";
import { type Answer, recordRequest } from "./record.ts";
import { requestId } from "./request_id.ts";
import { requestPath } from "./request_path.ts";
import { addCorsHeaders, preflight } from "./cors.ts";
import { servePlayground } from "./playground.ts";

/**
 * The `Deno.serve` handler. It composes the cross-cutting pieces in one place: the request
 * id, routing, the token check, the error-to-status mapping, and the access log and metrics.
 * It never touches pixels.
 *
 * @param current the dependencies of the config in force (a reload swaps them)
 */
export function createHandler(current: () => ServerDeps): (request: Request) => Promise<Response> {
  return async function handleRequest(request) {
    const started = performance.now();
    const deps = current();
    const id = requestId(request);
    let answer: Answer;
    const { cors } = deps.config.http;
    try {
      const allowed = preflight(request, id, cors, deps.config.security.token !== undefined);
      answer = allowed ? { response: allowed } : await route(request, id, deps);
    } catch (error) {
      answer = { response: errorResponse(error, id, deps.log) };
    }
    const { response } = answer;
    addCorsHeaders(request, response.headers, cors);
    noSniff(response);
    recordRequest(deps, request, answer, id, started);
    return request.method === "HEAD" ? new Response(null, response) : response;
  };
}

/** Answers a request; every response carries `X-Request-Id: id`. */
async function route(request: Request, id: string, deps: ServerDeps): Promise<Answer> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new MethodNotAllowed(`Method ${request.method} is not allowed: use GET or HEAD`);
  }
  const path = requestPath(request);
  if (path === "/health") return { response: health(id, deps) };
  const playground = servePlayground(request, path, id, deps.config);
  if (playground) return { response: await playground };
  const { http, security } = deps.config;
  checkToken(request, security.token);
  if (path === http.metricsPath && !http.metricsPort) {
    return { response: await metricsResponse(id, deps) };
  }
  if (!path.startsWith(`${http.root}/`)) throw new NotFound(`Nothing at "${path}"`);
  const image = await serveImage(request, path.slice(http.root.length), id, deps);
  return { response: image.response, image };
}

function health(id: string, { pool, sources, results }: ServerDeps): Response {
  const stats = pool.stats();
  // Unhealthy while fewer than the configured workers can take jobs: one is missing (its
  // replacement is starting) or stuck in a job that was cancelled.
  const healthy = stats.available >= stats.workers;
  const body = {
    status: healthy ? "ok" : "unhealthy",
    ...stats,
    caches: { source: sources.stats(), result: results.stats() },
  };
  return Response.json(body, {
    status: healthy ? 200 : 503,
    headers: { "cache-control": "no-store", "x-request-id": id },
  });
}

/**
 * The handler of the separate metrics port (`http.metricsPort`): only the metrics path, under
 * the same token rule as the main port.
 */
export function createMetricsHandler(
  current: () => ServerDeps,
): (request: Request) => Promise<Response> {
  return async function handleMetrics(request) {
    const deps = current();
    const id = requestId(request);
    let response: Response;
    try {
      const path = requestPath(request);
      if (path !== deps.config.http.metricsPath) throw new NotFound(`Nothing at "${path}"`);
      checkToken(request, deps.config.security.token);
      response = await metricsResponse(id, deps);
    } catch (error) {
      response = errorResponse(error, id, deps.log);
    }
    return noSniff(response);
  };
}

/**
 * Every answer says its `Content-Type` is the only one: a browser never guesses another (a
 * stored result that is not what it claims, an error page) and runs it as HTML or script.
 */
function noSniff(response: Response): Response {
  response.headers.set("x-content-type-options", "nosniff");
  return response;
}

/** The Prometheus text of the registry. */
async function metricsResponse(id: string, { metrics }: ServerDeps): Promise<Response> {
  return new Response(await metrics.registry.metrics(), {
    headers: {
      "content-type": metrics.registry.contentType,
      "cache-control": "no-store",
      "x-request-id": id,
    },
  });
}
