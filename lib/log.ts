/** Where the server writes its lines; `verbose` is `-debug`. */
export interface Logger {
  readonly verbose: boolean;
  info(message: string): void;
  error(message: string): void;
  /** A finished line (the access log formats its own), written as is. */
  line(text: string): void;
}

/** Logs to stdout/stderr with an ISO time stamp. */
export function createLogger(verbose: boolean): Logger {
  const stamp = (message: string) => `${new Date().toISOString()} ${message}`;
  return {
    verbose,
    info: (message) => console.log(stamp(message)),
    error: (message) => console.error(stamp(message)),
    line: (text) => console.log(text),
  };
}
