import { HeldBytes } from "./cache/held_bytes.ts";
import { JobBudget } from "./pool/job_budget.ts";
import { ResultCache, type SharedStoreOptions } from "./cache/results.ts";
import { SingleFlight } from "./cache/single_flight.ts";
import { SourceLoader } from "./cache/sources.ts";
import { Confirmations, storageOrigin } from "./cache/confirmations.ts";
import { type Config, ConfigError } from "./config/config.ts";
import { Admissions } from "./flow/admission.ts";
import { Deadlines } from "./flow/deadlines.ts";
import { parseContextOf } from "./flow/deps.ts";
import { RequestMemo } from "./flow/request_memo.ts";
import type { ServerDeps } from "./http/deps.ts";
import { createServerMetrics, type ServerMetrics } from "./http/metrics.ts";
import { createHandler, createMetricsHandler } from "./http/server.ts";
import type { Logger } from "./log.ts";
import { type PoolOptions, WorkerPool } from "./pool/pool.ts";
import { createStorages } from "../storages/mod.ts";
import type { Storage, WritableStorage } from "../storages/storage.ts";

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
   * Stops accepting, lets the requests in flight finish within `http.shutdownTimeout`,
   * answers those still running 503, then stops the workers.
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
  "caches.secret",
  "image.maxInflightBytes",
  "caches.resultDirBytes",
  "caches.shared",
];

function sameValue(a: Config, b: Config, key: string): boolean {
  const read = (config: Config) =>
    key.split(".").reduce(
      (value: unknown, part) => (value as Record<string, unknown>)[part],
      config,
    );
  return read(a) === read(b);
}

/**
 * The shared result store of `caches.shared`: its storage, whose failures cost a log line and
 * a count in `impressionist_shared_store_errors_total`.
 *
 * @throws {ConfigError} when that storage cannot be written
 */
function sharedStore(
  config: Config,
  storages: Map<string, Storage>,
  log: Logger,
  metrics: ServerMetrics,
  held: HeldBytes,
): SharedStoreOptions | undefined {
  const name = config.caches.shared;
  if (name === undefined) return undefined;
  const storage = storages.get(name);
  if (!storage?.put) {
    const type = config.storages.find((s) => s.name === name)?.type;
    throw new ConfigError(
      `"caches.shared": storage "${name}" of type "${type}" is read-only: use an "s3" or "local" storage`,
    );
  }
  return {
    storage: storage as WritableStorage,
    held,
    onError(operation, error) {
      metrics.sharedStoreErrors.inc({ operation });
      const cause = (error as Error)?.cause as Error | undefined;
      const detail = `${(error as Error)?.message ?? error}${cause ? `: ${cause.message}` : ""}`;
      log.error(`shared result store "${name}": ${operation} failed: ${detail}`);
    },
  };
}

/** How long the requests still running past the shutdown grace get to write their 503. */
const ANSWER_AT_STOP_MS = 1000;

/** Whether `promise` settles within `ms` milliseconds. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = await Promise.race([promise.then(() => true, () => true), late]);
  clearTimeout(timer);
  return settled;
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
  const metrics = createServerMetrics({
    queueLength: () => pool.stats().queued,
    workersBusy: () => pool.stats().busy,
  });
  // One bound across reloads: requests that started under the old config still hold bytes.
  // Reads from the shared result store count against it too.
  const held = new HeldBytes(config.image.maxInflightBytes);
  let storages: Map<string, Storage>;
  let results: ResultCache;
  try {
    storages = await createStorages(config.storages, config.baseDir);
    results = await ResultCache.open({
      maxBytes: config.caches.result,
      dir: config.caches.resultDir,
      dirMaxBytes: config.caches.resultDirBytes,
      shared: sharedStore(config, storages, log, metrics, held),
      secret: config.caches.secret,
      onRejected: (tier, key, reason) =>
        log.error(`result cache: refused the ${tier} copy of ${key} (a miss): ${reason}`),
      onDiskError: (reason) =>
        log.error(
          `result cache: cannot write to "${config.caches.resultDir}", serving without it: ${reason}`,
        ),
    }).catch((error) => {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(
        `"caches.resultDir": cannot use "${config.caches.resultDir}": ${(error as Error).message}`,
      );
    });
  } catch (error) {
    pool.close();
    throw error;
  }
  const shared = {
    pool,
    admissions: new Admissions(pool),
    jobBudget: new JobBudget(config.image.maxInflightJobBytes),
    deadlines: new Deadlines(),
    results,
    flights: new SingleFlight<Uint8Array<ArrayBuffer>>(),
    log,
    metrics,
  };
  /** Where sources' confirmations are kept: beside the results on disk and in the store. */
  function confirmationsFor(next: Config): Confirmations | undefined {
    if (!results.directory && !results.shared) return undefined;
    const origins = new Map(next.storages.map((s) => [s.name, storageOrigin(s.reader.raw)]));
    return new Confirmations(results, origins);
  }
  /** The dependencies of one config: its storages, source cache, parse context and memo. */
  function depsFor(next: Config, storages: Map<string, Storage>): ServerDeps {
    // The shared result store holds sealed results, not images: no URL reads from it.
    const readable = new Map([...storages].filter(([name]) => name !== config.caches.shared));
    const sources = new SourceLoader(
      readable,
      { entries: next.caches.source, bytes: next.caches.sourceBytes },
      next.image.maxSourceBytes,
      held,
      next.caches.memoBytes,
      confirmationsFor(next),
    );
    return {
      ...shared,
      config: next,
      loadedAt: new Date(),
      parseContext: parseContextOf(next),
      memo: new RequestMemo(next.image, pool.identity, next.caches.memoBytes),
      sources,
    };
  }
  let deps = depsFor(config, storages);
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
      deps = depsFor(next, await createStorages(next.storages, next.baseDir));
      return restartKeys.filter((key) => !sameValue(config, next, key));
    },
    async stop() {
      const finished = main.server.shutdown();
      if (!await settlesWithin(finished, config.http.shutdownTimeoutMs)) {
        // The grace is over: the requests still running are answered now, as at their
        // deadline (503), rather than cut off by the exit with no answer at all.
        shared.deadlines.expireAll();
        await settlesWithin(finished, ANSWER_AT_STOP_MS);
      }
      await side?.server.shutdown();
      pool.close();
      shared.deadlines.close();
      // Results made by the last requests still reach the other instances.
      await results.settled();
      log.flush();
    },
  };
}
