/**
 * Whether a GET or HEAD can be answered 304: `If-None-Match` matches the ETag (weak or
 * strong, or `*`), or, only when there is no `If-None-Match`, the source has not changed
 * since `If-Modified-Since` (HTTP dates have whole seconds). A date later than `now` is
 * ignored (RFC 7232 calls it invalid): it proves nothing about the copy the client holds,
 * and would otherwise pin that copy for as long as the date lies ahead.
 */
export function isNotModified(
  request: Request,
  etag: string,
  lastModified?: Date,
  now = Date.now(),
): boolean {
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    return ifNoneMatch.split(",").some((tag) => {
      const trimmed = tag.trim();
      return trimmed === "*" || trimmed.replace(/^W\//, "") === etag;
    });
  }
  const ifModifiedSince = Date.parse(request.headers.get("if-modified-since") ?? "");
  if (!lastModified || Number.isNaN(ifModifiedSince) || ifModifiedSince > now) return false;
  return Math.floor(lastModified.getTime() / 1000) * 1000 <= ifModifiedSince;
}
