import type { Config } from "./config.ts";
import { HttpError, MethodNotAllowed, NotFound, Unavailable } from "./errors.ts";
import { contentTypes } from "./formats.ts";
import type { Logger } from "./log.ts";
import type { WorkerPool } from "./pool.ts";
import type { SourceLoader } from "./sources.ts";
import { type JobContext, parseJob } from "./url.ts";

/** What the HTTP handler works with; built once in main.ts. */
export interface ServerDeps {
  config: Config;
  sources: SourceLoader;
  pool: WorkerPool;
  log: Logger;
}

/** The outcome of one request, for the access log. */
interface Outcome {
  response: Response;
  detail?: string;
}

/**
 * The `Deno.serve` handler: routes GET and HEAD under `http.root` and `/health`, and maps
 * every error to a status and a short plain-text reason. It never touches pixels.
 */
export function createHandler(deps: ServerDeps): (request: Request) => Promise<Response> {
  const { config, log } = deps;
  const context: JobContext = {
    ...config.image,
    presets: config.presets,
    defaultQuality: config.image.quality,
  };
  return async function handleRequest(request) {
    const started = performance.now();
    const id = crypto.randomUUID().slice(0, 8);
    const url = new URL(request.url);
    let outcome: Outcome;
    try {
      outcome = await route(request, url, deps, context);
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

async function route(
  request: Request,
  url: URL,
  deps: ServerDeps,
  context: JobContext,
): Promise<Outcome> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new MethodNotAllowed(`Method ${request.method} is not allowed: use GET or HEAD`);
  }
  if (url.pathname === "/health") return { response: health(deps) };
  const root = deps.config.http.root;
  if (!url.pathname.startsWith(`${root}/`)) throw new NotFound(`Nothing at "${url.pathname}"`);
  return await serveImage(url.pathname.slice(root.length), deps, context);
}

async function serveImage(rest: string, deps: ServerDeps, context: JobContext): Promise<Outcome> {
  const job = parseJob(rest, context);
  const signal = AbortSignal.timeout(deps.config.http.timeoutMs);
  try {
    const source = await deps.sources.load(job.storage, job.path, signal);
    const output = await deps.pool.run(
      { chain: job.chain, format: job.format },
      source.bytes,
      signal,
    );
    const headers = {
      "content-type": contentTypes[job.format.type],
      "content-length": String(output.byteLength),
    };
    const chain = job.chain.map((s) => `${s.name}:${JSON.stringify(s.params)}`).join(" ");
    return {
      response: new Response(output, { headers }),
      detail: `chain=[${chain}] source-cache=${source.cache}`,
    };
  } catch (error) {
    // A storage read cut short by the deadline fails with its own error; the cause is time.
    if (signal.aborted && !(error instanceof HttpError)) {
      throw new Unavailable("The request timed out: try again shortly");
    }
    throw error;
  }
}

function health({ pool, sources }: ServerDeps): Response {
  const body = { status: "ok", ...pool.stats(), caches: { source: sources.stats() } };
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
