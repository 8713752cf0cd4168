/**
 * Typed errors, each carrying its HTTP status and a public message. The server maps them
 * once; anything else is an internal error answered 500 without detail.
 */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: the URL or its arguments are wrong. */
export class BadRequest extends HttpError {
  constructor(message: string) {
    super(400, message);
  }
}

/** 401: a bearer token is required or wrong. */
export class Unauthorized extends HttpError {
  constructor(message: string) {
    super(401, message);
  }
}

/** 403: the request is refused (bad signature, access denied upstream). */
export class Forbidden extends HttpError {
  constructor(message: string) {
    super(403, message);
  }
}

/** 404: no such storage, file or route. */
export class NotFound extends HttpError {
  constructor(message: string) {
    super(404, message);
  }
}

/** 405: the method is not GET or HEAD. */
export class MethodNotAllowed extends HttpError {
  constructor(message: string) {
    super(405, message);
  }
}

/** 413: the source is larger than allowed. */
export class TooLarge extends HttpError {
  constructor(message: string) {
    super(413, message);
  }
}

/** 422: the source cannot be decoded or is too large in pixels. */
export class Unprocessable extends HttpError {
  constructor(message: string) {
    super(422, message);
  }
}

/** 502: an upstream storage answered with an error. */
export class BadGateway extends HttpError {
  constructor(message: string) {
    super(502, message);
  }
}

/** 503: the server is overloaded or the request ran out of time. */
export class Unavailable extends HttpError {
  constructor(message: string) {
    super(503, message);
  }
}

/**
 * 503: the request's time ran out (its deadline passed, or the job it waited for was stopped).
 * The one error for it, wherever the time runs out: a read, a flight, the pool, a backend.
 */
export class TimedOut extends Unavailable {
  constructor() {
    super("The request timed out: try again shortly");
  }
}

/**
 * 499 (nginx's code): the client went away before its answer. Never delivered; it names the
 * cause in the access log and the metrics, where a 503 would blame the server.
 */
export class ClientClosed extends HttpError {
  constructor() {
    super(499, "The client closed the request");
  }
}

/** 504: an upstream storage did not answer in time. */
export class GatewayTimeout extends HttpError {
  constructor(message: string) {
    super(504, message);
  }
}

/**
 * Whether `error` is a storage's failure to answer (502 or 504): the failures a stale result
 * may stand in for, and that make a source wait before it is asked again.
 */
export function isUpstreamFailure(error: unknown): error is HttpError {
  return error instanceof HttpError && (error.status === 502 || error.status === 504);
}

/** A plain, cloneable form of an error, for crossing the worker boundary. */
export interface ErrorShape {
  status: number;
  message: string;
}

const typeNames: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "too_large",
  499: "client_closed",
  422: "unprocessable",
  500: "internal",
  502: "bad_gateway",
  503: "unavailable",
  504: "gateway_timeout",
};

/** A stable, label-friendly name for an error status, for metrics. */
export function errorType(status: number): string {
  return typeNames[status] ?? `status_${status}`;
}
