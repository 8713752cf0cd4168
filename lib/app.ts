import { createStorages } from "../storages/mod.ts";
import type { Storage } from "../storages/storage.ts";
import { type Config, ConfigError } from "./config/config.ts";
import type { Logger } from "./log.ts";
import { createServerMetrics, MetricsRegistry } from "./http/metrics.ts";
import { type PoolOptions, WorkerPool } from "./pool/pool.ts";
import { ResultCache } from "./cache/results.ts";
import { createHandler, createMetricsHandler, serverState } from "./http/server.ts";
import { SourceLoader } from "./cache/sources.ts";

/** A running server and what it owns. */
export interface App {
  /** The address it listens on (the port is the real one when the config asked for 0). */
  addr: Deno.NetAddr;
  /** The metrics listener's address when `http.metricsPort` is set. */
  metricsAddr?: Deno.NetAddr;
  pool: WorkerPool;
  /**
   * Swaps in a new config for the requests that start from now on: presets, storages, limits,
   * security. Answers the keys whose change needs a restart (and were not applied).
   *
   * @throws {ConfigError} when a storage of the new config cannot be built
   */
  reload(config: Config): Promise<string[]>;
  /**
   * Stops accepting, lets the requests in flight finish within `http.shutdownTimeout`, then
   * stops the workers.
   */
  stop(): Promise<void>;
}

/** Settings read once at start-up; a reload reports their change instead of applying it. */
const restartKeys = [
  "http.host",
  "http.port",
  "http.workers",
  "http.queue",
  "http.metricsPort",
  "backend",
  "caches.result",
  "caches.resultDir",
];

function sameValue(a: Config, b: Config, key: string): boolean {
  const read = (config: Config) =>
    key.split(".").reduce(
      (value: unknown, part) => (value as Record<string, unknown>)[part],
      config,
    );
  return read(a) === read(b);
}

function sourceLoader(config: Config, storages: Map<string, Storage>): SourceLoader {
  return new SourceLoader(
    storages,
    { entries: config.caches.source, bytes: config.caches.sourceBytes },
    config.image.maxSourceBytes,
  );
}

/** Starts `Deno.serve` and resolves with its real address. */
async function listen(hostname: string, port: number, handler: Deno.ServeHandler) {
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({ hostname, port, onListen: listening.resolve }, handler);
  return { server, addr: await listening.promise };
}

/**
 * Builds the storages, starts the worker pool and serves HTTP. `poolTuning` is for tests (a
 * worker module that ignores cancellation, a shorter grace period).
 *
 * @throws {ConfigError} when a storage or the backend cannot start
 */
export async function startApp(
  config: Config,
  log: Logger,
  poolTuning: Pick<PoolOptions, "graceMs" | "workerUrl"> = {},
): Promise<App> {
  const storages = await createStorages(config.storages, config.baseDir);
  const pool = await WorkerPool.start({
    size: config.http.workers,
    queueLimit: config.http.queue,
    backend: config.backend,
    limits: config.image,
    onInternalError: (detail) => log.error(`worker: ${detail}`),
    ...poolTuning,
  }).catch((error) => {
    throw new ConfigError(`Cannot start the "${config.backend}" backend: ${error.message}`);
  });
  let state = serverState(config, sourceLoader(config, storages));
  const results = new ResultCache({ maxBytes: config.caches.result, dir: config.caches.resultDir });
  if (config.caches.resultDir) await Deno.mkdir(config.caches.resultDir, { recursive: true });
  const registry = new MetricsRegistry();
  const metrics = createServerMetrics(registry, {
    queueLength: () => pool.stats().queued,
    workersBusy: () => pool.stats().busy,
  });
  const handler = createHandler({
    current: () => state,
    results,
    pool,
    log,
    registry,
    metrics,
  });
  const { host, port, metricsPort } = config.http;
  const main = await listen(host, port, handler);
  log.info(
    `impressionist listening on http://${main.addr.hostname}:${main.addr.port}${config.http.root}`,
  );
  const side = metricsPort
    ? await listen(host, metricsPort, createMetricsHandler({ current: () => state, registry, log }))
    : undefined;
  return {
    addr: main.addr,
    metricsAddr: side?.addr,
    pool,
    async reload(next) {
      const storages = await createStorages(next.storages, next.baseDir);
      state = serverState(next, sourceLoader(next, storages));
      return restartKeys.filter((key) => !sameValue(config, next, key));
    },
    async stop() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise((resolve) => {
        timer = setTimeout(resolve, config.http.shutdownTimeoutMs);
      });
      await Promise.race([main.server.shutdown(), deadline]);
      clearTimeout(timer);
      await side?.server.shutdown();
      pool.close();
    },
  };
}
