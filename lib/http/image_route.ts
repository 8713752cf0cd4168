import { contentTypes } from "../image/formats.ts";
import { sniffEncoded } from "../image/sniff.ts";
import { type ImageOutcome, runImageFlow } from "../flow/image_flow.ts";
import { isNotModified } from "./conditional.ts";
import type { ServerDeps } from "./deps.ts";

/** An image response and how it was made, for the log and the metrics. */
export interface ImageAnswer {
  response: Response;
  outcome: ImageOutcome;
}

/**
 * The image route's HTTP face: hands the path, `Accept`, the conditional headers and the
 * client's signal to the flow (lib/flow/), and writes its outcome as a response.
 *
 * @param rest the URL path after `http.root`, still percent-encoded
 * @throws {HttpError} for every failure; Unavailable (503) when time or room ran out
 */
export async function serveImage(
  request: Request,
  rest: string,
  id: string,
  deps: ServerDeps,
): Promise<ImageAnswer> {
  const outcome = await runImageFlow({
    rest,
    accept: request.headers.get("accept"),
    clientSignal: request.signal,
    notModified: (key, modified) => isNotModified(request, `"${key}"`, modified),
  }, deps);
  const { job, key, modified, bytes, result, stale } = outcome;
  const headers: [string, string][] = [
    ["etag", `"${key}"`],
    ["cache-control", deps.config.http.cacheControl],
    ["x-request-id", id],
  ];
  if (job.format.type === "auto") headers.push(["vary", "Accept"]);
  if (modified) headers.push(["last-modified", modified.toUTCString()]);
  if (stale) headers.push(["x-cache", "stale"]);
  if (!bytes) return { response: new Response(null, { status: 304, headers }), outcome };
  headers.push(
    // `auto` decides the format in the worker; the bytes say which it chose.
    ["content-type", contentTypes[sniffEncoded(bytes)!]],
    ["content-length", String(bytes.byteLength)],
  );
  if (!stale) headers.push(["x-cache", result]);
  return { response: new Response(bytes, { headers }), outcome };
}
