import { HeldBytes } from "./cache/held_bytes.ts";
import { Admissions } from "./http/admission.ts";
import { ResultCache } from "./cache/results.ts";
import { SingleFlight } from "./cache/single_flight.ts";
import { SourceLoader } from "./cache/sources.ts";
import { type Config, ConfigError } from "./config/config.ts";
import { parseContextOf, type ServerDeps } from "./http/deps.ts";
import { createServerMetrics } from "./http/metrics.ts";
import { RequestMemo } from "./http/request_memo.ts";
import { createHandler, createMetricsHandler } from "./http/server.ts";
import type { Logger } from "./log.ts";
import { WorkerPool } from "./pool/pool.ts";
import { createStorages } from "../storages/mod.ts";

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
  "image.maxInflightBytes",
];

function sameValue(a: Config, b: Config, key: string): boolean {
  const read = (config: Config) =>
    key.split(".").reduce(
      (value: unknown, part) => (value as Record<string, unknown>)[part],
      config,
    );
  return read(a) === read(b);
}

/** Starts `Deno.serve` and resolves with its real address. */
async function listen(hostname: string, port: number, handler: Deno.ServeHandler) {
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({ hostname, port, onListen: listening.resolve }, handler);
  return { server, addr: await listening.promise };
}

/**
 * Builds the storages, starts the worker pool and serves HTTP.
 *
 * @throws {ConfigError} when a storage or the backend cannot start
 */
export async function startApp(config: Config, log: Logger): Promise<App> {
  const pool = await WorkerPool.start({
    size: config.http.workers,
    queueLimit: config.http.queue,
    backend: config.backend,
    limits: config.image,
    onInternalError: (detail) => log.error(`worker: ${detail}`),
  }).catch((error) => {
    throw new ConfigError(`Cannot start the "${config.backend}" backend: ${error.message}`);
  });
  const results = new ResultCache({ maxBytes: config.caches.result, dir: config.caches.resultDir });
  if (config.caches.resultDir) await Deno.mkdir(config.caches.resultDir, { recursive: true });
  // One bound across reloads: requests that started under the old config still hold bytes.
  const held = new HeldBytes(config.image.maxInflightBytes);
  const shared = {
    pool,
    admissions: new Admissions(pool),
    results,
    flights: new SingleFlight<Uint8Array<ArrayBuffer>>(),
    log,
    metrics: createServerMetrics({
      queueLength: () => pool.stats().queued,
      workersBusy: () => pool.stats().busy,
    }),
  };
  /** The dependencies of one config: storages and the source cache are rebuilt on reload. */
  async function depsFor(next: Config): Promise<ServerDeps> {
    const storages = await createStorages(next.storages, next.baseDir);
    const sources = new SourceLoader(
      storages,
      { entries: next.caches.source, bytes: next.caches.sourceBytes },
      next.image.maxSourceBytes,
      held,
    );
    return {
      ...shared,
      config: next,
      loadedAt: new Date(),
      parseContext: parseContextOf(next),
      memo: new RequestMemo(next.image, pool.identity),
      sources,
    };
  }
  let deps = await depsFor(config).catch((error) => {
    pool.close();
    throw error;
  });
  const handler = createHandler(() => deps);
  const { host, port, metricsPort } = config.http;
  const main = await listen(host, port, handler);
  log.info(
    `impressionist listening on http://${main.addr.hostname}:${main.addr.port}${config.http.root}`,
  );
  const side = metricsPort
    ? await listen(host, metricsPort, createMetricsHandler(() => deps))
    : undefined;
  return {
    addr: main.addr,
    metricsAddr: side?.addr,
    pool,
    async reload(next) {
      deps = await depsFor(next);
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
      log.flush();
    },
  };
}
