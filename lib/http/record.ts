import { errorType } from "../errors.ts";
import { formatAccess } from "./access_log.ts";
import type { ServerDeps } from "./deps.ts";
import type { ImageAnswer } from "./image_route.ts";
import { loggedPath } from "./request_path.ts";

/** A response, and the image work behind it when there was some. */
export interface Answer {
  response: Response;
  image?: ImageAnswer;
}

/** Writes one finished request to the access log and the metrics. */
export function recordRequest(
  deps: ServerDeps,
  request: Request,
  { response, image }: Answer,
  id: string,
  started: number,
): void {
  const { metrics, log } = deps;
  const seconds = (performance.now() - started) / 1000;
  const status = response.status;
  metrics.requests.inc({ status: String(status) });
  metrics.requestDuration.observe(seconds);
  if (status >= 400) metrics.errors.inc({ type: errorType(status) });
  if (image) {
    const { source, result, stale, job } = image.outcome;
    if (source) {
      (source.cache === "hit" ? metrics.cacheHits : metrics.cacheMisses).inc({ cache: "source" });
      if (source.cache === "miss") {
        metrics.sourceBytes.inc({ storage: source.storage }, source.bytes);
      }
    }
    if (stale) metrics.staleResults.inc({ storage: job.storage });
    if (result !== "not-modified") {
      const counter = result === "miss" ? metrics.cacheMisses : metrics.cacheHits;
      counter.inc({ cache: result === "shared" ? "shared" : "result" });
    }
  }
  log.line(formatAccess(
    {
      id,
      method: request.method,
      path: loggedPath(request),
      status,
      bytes: Number(response.headers.get("content-length") ?? 0),
      ms: seconds * 1000,
      cache: image && cacheFacts(image),
      // Only -debug logs the chain; don't spell it out for every request otherwise.
      chain: log.verbose && image
        ? image.outcome.job.chain.map((s) => `${s.name}:${JSON.stringify(s.params)}`).join(" ")
        : undefined,
    },
    deps.config.log.format,
    log.verbose,
  ));
}

/** `source=… result=…` for the access log; `source=fresh` when no storage was asked. */
function cacheFacts({ outcome }: ImageAnswer): string {
  const result = outcome.stale ? "stale" : outcome.result;
  return `source=${outcome.source?.cache ?? "fresh"} result=${result}`;
}
