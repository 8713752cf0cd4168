const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `X-Request-Id` when it is a plain token, otherwise a new UUID. */
export function requestId(request: Request): string {
  const given = request.headers.get("x-request-id");
  return given && requestIdPattern.test(given) ? given : crypto.randomUUID();
}
