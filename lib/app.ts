import { createStorages } from "../storages/mod.ts";
import { type Config, ConfigError } from "./config.ts";
import type { Logger } from "./log.ts";
import { WorkerPool } from "./pool.ts";
import { ResultCache } from "./result_cache.ts";
import { createHandler } from "./server.ts";
import { SourceLoader } from "./sources.ts";

/** A running server and what it owns. */
export interface App {
  /** The address it listens on (the port is the real one when the config asked for 0). */
  addr: Deno.NetAddr;
  pool: WorkerPool;
  /**
   * Stops accepting, lets the requests in flight finish within `http.shutdownTimeout`, then
   * stops the workers.
   */
  stop(): Promise<void>;
}

/**
 * Builds the storages, starts the worker pool and serves HTTP.
 *
 * @throws {ConfigError} when a storage or the backend cannot start
 */
export async function startApp(config: Config, log: Logger): Promise<App> {
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
  const results = new ResultCache({ maxBytes: config.caches.result, dir: config.caches.resultDir });
  if (config.caches.resultDir) await Deno.mkdir(config.caches.resultDir, { recursive: true });
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: config.http.host,
    port: config.http.port,
    onListen: listening.resolve,
  }, createHandler({ config, sources, results, pool, log }));
  const addr = await listening.promise;
  log.info(`impressionist listening on http://${addr.hostname}:${addr.port}${config.http.root}`);
  return {
    addr,
    pool,
    async stop() {
      let timer: number | undefined;
      const deadline = new Promise((resolve) => {
        timer = setTimeout(resolve, config.http.shutdownTimeoutMs);
      });
      await Promise.race([server.shutdown(), deadline]);
      clearTimeout(timer);
      pool.close();
    },
  };
}
