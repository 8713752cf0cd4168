/**
 * Cross-origin access (`http.cors`): which other sites' scripts may read our responses, e.g.
 * to `fetch()` an image or draw it into a `<canvas>` and read its pixels.
 */

/** `"*"`, or the allowed origins; an empty list turns CORS off. */
export type CorsOrigins = "*" | readonly string[];

/** Request headers a script may set beyond the safelisted ones: its own id, revalidation. */
const requestHeaders = "X-Request-Id, If-None-Match, If-Modified-Since";

/** Response headers a script on another origin may read besides the basic ones. */
const exposed = "ETag, X-Cache, X-Request-Id";

/**
 * The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`): 204 with
 * the methods and headers a script may use, or undefined when CORS is off or the request is
 * not a preflight (it then gets the usual 405).
 */
export function preflight(
  request: Request,
  id: string,
  origins: CorsOrigins,
  tokenRequired: boolean,
): Response | undefined {
  if (request.method !== "OPTIONS" || isOff(origins)) return undefined;
  if (!request.headers.has("access-control-request-method")) return undefined;
  const headers = new Headers({
    "access-control-allow-methods": "GET, HEAD",
    "access-control-allow-headers": (tokenRequired ? "Authorization, " : "") + requestHeaders,
    "access-control-max-age": "600",
    "x-request-id": id,
  });
  allowOrigin(request, headers, origins);
  return new Response(null, { status: 204, headers });
}

/**
 * Adds the CORS headers to a response: the allowed origin (the request's own when it is in
 * the list, `*` for everyone), `Vary: Origin` when the answer depends on it, and the exposed
 * headers. Does nothing when CORS is off.
 */
export function addCorsHeaders(request: Request, headers: Headers, origins: CorsOrigins): void {
  if (isOff(origins)) return;
  if (allowOrigin(request, headers, origins)) {
    headers.set("access-control-expose-headers", exposed);
  }
}

/** Sets `Access-Control-Allow-Origin` when allowed; answers whether it did. */
function allowOrigin(request: Request, headers: Headers, origins: CorsOrigins): boolean {
  if (origins === "*") {
    headers.set("access-control-allow-origin", "*");
    return true;
  }
  // A shared cache must not hand one origin's answer to another (said once: a preflight's
  // answer passes here twice).
  const vary = headers.get("vary") ?? "";
  if (!/(?:^|,)\s*origin\s*(?:,|$)/i.test(vary)) headers.append("vary", "Origin");
  const origin = request.headers.get("origin");
  if (origin === null || !origins.includes(origin)) return false;
  headers.set("access-control-allow-origin", origin);
  return true;
}

function isOff(origins: CorsOrigins): boolean {
  return origins !== "*" && origins.length === 0;
}
