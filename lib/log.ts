/** Where the server writes its lines; `debug` lines appear only with `-debug`. */
export interface Logger {
  info(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** Logs to stdout/stderr with an ISO time stamp. */
export function createLogger(verbose: boolean): Logger {
  const line = (message: string) => `${new Date().toISOString()} ${message}`;
  return {
    info: (message) => console.log(line(message)),
    error: (message) => console.error(line(message)),
    debug: verbose ? (message) => console.log(line(message)) : () => {},
  };
}
