import { HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** Longest error message answered; longer ones (echoing client text) are cut in the middle. */
const MAX_MESSAGE = 240;

/** Shortens `text` to at most `max` characters, keeping its start and end around an ellipsis. */
export function elide(text: string, max = MAX_MESSAGE): string {
  if (text.length <= max) return text;
  const keep = max - 1;
  return `${text.slice(0, Math.ceil(keep * 0.75))}…${
    text.slice(text.length - Math.floor(keep / 4))
  }`;
}

/**
 * The one mapping from an error to a response: typed errors answer their status and public
 * message (short even when it quotes client text); anything else is logged with the request
 * id and answered 500 without detail. The headers are complete, so a HEAD gets the same ones.
 */
export function errorResponse(error: unknown, id: string, log: Logger): Response {
  const known = error instanceof HttpError ? error : undefined;
  // Overload (503) is expected under load; every other server-side failure is worth a line.
  if (!known || (known.status >= 500 && known.status !== 503)) {
    const detail = (error as { detail?: string })?.detail ?? (error as Error)?.stack ?? error;
    log.error(`${id} ${known ? known.status : 500}: ${elide(String(detail), 4000)}`);
  }
  const status = known?.status ?? 500;
  const body = new TextEncoder().encode(`${elide(known?.message ?? "Internal error")}\n`);
  const headers = new Headers({
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.byteLength),
    "cache-control": "no-store",
    "x-request-id": id,
  });
  if (status === 503) headers.set("retry-after", "1");
  if (status === 405) headers.set("allow", "GET, HEAD");
  return new Response(body, { status, headers });
}
