import { parseArgs } from "node:util";
import { type App, startApp } from "./lib/app.ts";
import { type Config, ConfigError, loadConfig } from "./lib/config/config.ts";
import { signPath } from "./lib/jobs/signature.ts";
import { dotSegment } from "./lib/jobs/url.ts";
import { createLogger, type Logger } from "./lib/log.ts";

const usage = `Usage: impressionist [-cfg FILE] [-debug]
       impressionist sign [-cfg FILE] /{filters}/{format}/{storage}/{path}

  -cfg FILE   configuration file (default ./impressionist.json)
  -debug      add the expanded filter chain to each access-log line (one line per request
              is logged either way, with status, bytes, time and cache decisions)
  -h          show this help`;

/** Accepts the original's single-dash long flags (-cfg, -debug) as well as --cfg, --debug. */
function readFlags(args: string[]) {
  const normalised = args.map((arg) => /^-(cfg|debug)(=|$)/.test(arg) ? `-${arg}` : arg);
  const { values, positionals } = parseArgs({
    args: normalised,
    allowPositionals: true,
    options: {
      cfg: { type: "string", default: "./impressionist.json" },
      debug: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  return { ...values, positionals };
}

/** `sign PATH`: prints the signed URL path for the first configured key. */
async function sign(config: Config, path: string | undefined): Promise<number> {
  const key = config.security.keys[0];
  if (!key) throw new ConfigError(`"security.keys" is empty: there is nothing to sign with`);
  if (!path?.startsWith("/")) {
    console.error(`sign needs a path starting with "/"\n\n${usage}`);
    return 2;
  }
  if (path.split("/").some((segment) => dotSegment.test(segment))) {
    console.error(`A "." or ".." segment is refused by the server: name the file itself`);
    return 2;
  }
  if (/[?#]/.test(path)) {
    console.error(`A "?" or "#" would end the URL's path: write them %3F and %23\n\n${usage}`);
    return 2;
  }
  const requested = asRequested(path);
  console.log(`${config.http.root}/${await signPath(key, requested)}${requested}`);
  return 0;
}

/**
 * The path as a client will send it, which is what the server checks the signature of: a
 * path typed with spaces or non-ASCII letters is percent-encoded as browsers and curl do, and
 * a `%` that starts no escape stands for itself (`%25`); escapes already written are kept.
 */
function asRequested(path: string): string {
  return new URL(path.replace(/%(?![0-9A-Fa-f]{2})/g, "%25"), "http://host").pathname;
}

async function main(): Promise<number> {
  let flags;
  try {
    flags = readFlags(Deno.args);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (flags.help) {
    console.log(usage);
    return 0;
  }
  const [command, ...rest] = flags.positionals;
  if (command === "sign") return await sign(await loadConfig(flags.cfg), rest[0]);
  // A compiled server starts its workers' job processes as itself (lib/pool/job_process.ts).
  if (command === "job-process" && Deno.build.standalone) {
    await (await import("./lib/pool/job_process.ts")).serveJobs();
    return 0;
  }
  if (command !== undefined) {
    console.error(`Unknown command "${command}"\n\n${usage}`);
    return 2;
  }
  const log = createLogger(flags.debug);
  const config = await loadConfig(flags.cfg);
  logWarnings(config, log);
  const configFile = flags.cfg;
  // Listened for before the start: the server logs "listening" before the start has ended, and a
  // SIGHUP with no listener ends the process. One that comes meanwhile reloads once started.
  const started: { app?: App; reloadThen?: boolean } = {};
  Deno.addSignalListener("SIGHUP", () => {
    if (started.app) reload(started.app, configFile, log);
    else started.reloadThen = true;
  });
  const app = started.app = await startApp(config, log).catch(async (error) => {
    await log.drained(1000);
    throw error;
  });
  if (started.reloadThen) reload(app, configFile, log);

  const stopping = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stopping.resolve());
  }
  await stopping.promise;
  log.info("shutting down: finishing the requests in flight");
  await app.stop();
  // The last lines are written before the exit, unless nobody reads them.
  await log.drained(1000);
  return 0;
}

function logWarnings(config: Config, log: Logger): void {
  for (const warning of config.warnings) log.info(`warning: ${warning}`);
}

/** Re-reads the config file; a bad one is logged and the running config stays. */
async function reload(app: App, file: string, log: Logger): Promise<void> {
  try {
    const config = await loadConfig(file);
    const needRestart = await app.reload(config);
    log.info(`reloaded ${file}`);
    logWarnings(config, log);
    if (needRestart.length) log.info(`changes that need a restart: ${needRestart.join(", ")}`);
  } catch (error) {
    log.error(`reload of ${file} failed, keeping the running config: ${(error as Error).message}`);
  }
}

try {
  Deno.exit(await main());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`impressionist: ${error.message}`);
  Deno.exit(1);
}
