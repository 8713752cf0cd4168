/**
 * Whether a GET or HEAD can be answered 304: `If-None-Match` matches the ETag (weak or
 * strong, or `*`), or, only when there is no `If-None-Match`, the source has not changed
 * since `If-Modified-Since` (HTTP dates have whole seconds).
 */
export function isNotModified(request: Request, etag: string, lastModified?: Date): boolean {
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    return ifNoneMatch.split(",").some((tag) => {
      const trimmed = tag.trim();
      return trimmed === "*" || trimmed.replace(/^W\//, "") === etag;
    });
  }
  const ifModifiedSince = Date.parse(request.headers.get("if-modified-since") ?? "");
  if (!lastModified || Number.isNaN(ifModifiedSince)) return false;
  return Math.floor(lastModified.getTime() / 1000) * 1000 <= ifModifiedSince;
}
