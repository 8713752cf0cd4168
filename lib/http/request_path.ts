import { elide } from "./error_response.ts";
import { BadRequest } from "../errors.ts";
import { dotSegment } from "../jobs/url.ts";

/** A Host header as RFC 9110 allows it: a name or address, an optional port; no path. */
const validHost = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The path of the request line, which routing uses and nothing else. `Request.url` is built
 * from the Host header and the request line, so a Host holding `/`, `?`, `#`, `\` or `@`
 * could move the route into the header, past a proxy that filters on the path: such a
 * Host is refused. `new URL` resolves `.` and `..` segments, which would turn
 * `/a/../b` into another route; such segments are refused as written.
 *
 * @throws {BadRequest} for a malformed Host header or a `.` or `..` segment
 */
export function requestPath(request: Request): string {
  const host = request.headers.get("host");
  if (host !== null && !validHost.test(host)) throw new BadRequest("Malformed Host header");
  const url = new URL(request.url);
  // The path as written: after the authority (a valid Host holds no "/"), before the query.
  const pathStart = request.url.indexOf("/", request.url.indexOf("//") + 2);
  const written = pathStart < 0 ? "" : request.url.slice(pathStart).split(/[?#]/, 1)[0];
  const dots = written.split("/").find((segment) => dotSegment.test(segment));
  if (dots !== undefined) {
    throw new BadRequest(`A "${dots}" segment is not allowed in a path: name the file itself`);
  }
  return url.pathname;
}

/** Longest path written to the access log: a client's 60 KB URL must not fill the log. */
const MAX_LOGGED_PATH = 2048;

/**
 * The path for the access log: the request line's (shortened in the middle past
 * `MAX_LOGGED_PATH`), or "-" when the request is malformed.
 */
export function loggedPath(request: Request): string {
  try {
    return elide(new URL(request.url).pathname, MAX_LOGGED_PATH);
  } catch {
    return "-";
  }
}
