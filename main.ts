import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./lib/config.ts";
import { createLogger } from "./lib/log.ts";
import { WorkerPool } from "./lib/pool.ts";
import { createHandler } from "./lib/server.ts";
import { SourceLoader } from "./lib/sources.ts";
import { createStorages } from "./storages/mod.ts";

const usage = `Usage: impressionist [-cfg FILE] [-debug]

  -cfg FILE   configuration file (default ./impressionist.json)
  -debug      log one line per request, with the filter chain and cache decisions
  -h          show this help`;

/** Accepts the original's single-dash long flags (-cfg, -debug) as well as --cfg, --debug. */
function readFlags(args: string[]) {
  const normalised = args.map((arg) => /^-(cfg|debug)(=|$)/.test(arg) ? `-${arg}` : arg);
  const { values } = parseArgs({
    args: normalised,
    options: {
      cfg: { type: "string", default: "./impressionist.json" },
      debug: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  return values;
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
  const log = createLogger(flags.debug);
  const config = await loadConfig(flags.cfg);
  const storages = await createStorages(config.storages, config.baseDir);
  const pool = await WorkerPool.start({
    size: config.http.workers,
    queueLimit: config.http.queue,
    backend: config.backend,
    limits: config.image,
    onInternalError: (detail) => log.error(`worker: ${detail}`),
  }).catch((error) => {
    throw new ConfigError(`Cannot start the "${config.backend}" backend: ${error.message}`);
  });
  const sources = new SourceLoader(
    storages,
    { entries: config.caches.source, bytes: config.caches.sourceBytes },
    config.image.maxSourceBytes,
  );
  const { host, port } = config.http;
  const server = Deno.serve({
    hostname: host,
    port,
    onListen: (addr) =>
      log.info(`impressionist listening on http://${addr.hostname}:${addr.port}${config.http.root}`),
  }, createHandler({ config, sources, pool, log }));

  // Stop accepting, let the requests in flight finish (within shutdownTimeout), then exit.
  const stopped = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stopped.resolve());
  }
  await stopped.promise;
  log.info("shutting down: finishing the requests in flight");
  const deadline = new Promise((resolve) => setTimeout(resolve, config.http.shutdownTimeoutMs));
  await Promise.race([server.shutdown(), deadline]);
  pool.close();
  return 0;
}

try {
  Deno.exit(await main());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`impressionist: ${error.message}`);
  Deno.exit(1);
}
