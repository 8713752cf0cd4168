import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Reads the pool's gauges when the metrics are scraped. */
export interface ServerCollectors {
  queueLength(): number;
  workersBusy(): number;
}

/** The metrics the server records, and the registry that renders them. */
export interface ServerMetrics {
  registry: Registry;
  /** `impressionist_requests_total{status}` */
  requests: Counter<"status">;
  /** `impressionist_request_duration_seconds` */
  requestDuration: Histogram;
  /** `impressionist_cache_hits_total{cache}` */
  cacheHits: Counter<"cache">;
  /** `impressionist_cache_misses_total{cache}` */
  cacheMisses: Counter<"cache">;
  /** `impressionist_source_bytes_total{storage}` */
  sourceBytes: Counter<"storage">;
  /** `impressionist_errors_total{type}` */
  errors: Counter<"type">;
  /** `impressionist_stale_results_total{storage}`: served because the storage failed */
  staleResults: Counter<"storage">;
  /** `impressionist_shared_store_errors_total{operation}`: `get` or `put` */
  sharedStoreErrors: Counter<"operation">;
}

/** Bucket bounds of `impressionist_request_duration_seconds`, in seconds. */
const REQUEST_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The server's metrics in a registry of their own (one per running app, so tests can start
 * several), with prom-client's default process metrics (CPU, memory, event-loop lag), which
 * show runaway work and leaks.
 */
export function createServerMetrics(collectors: ServerCollectors): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: "impressionist_queue_length",
    help: "Jobs waiting for a worker",
    registers,
    collect() {
      this.set(collectors.queueLength());
    },
  });
  new Gauge({
    name: "impressionist_workers_busy",
    help: "Workers running a job",
    registers,
    collect() {
      this.set(collectors.workersBusy());
    },
  });
  return {
    registry,
    requests: new Counter({
      name: "impressionist_requests_total",
      help: "HTTP requests answered, by status code",
      labelNames: ["status"],
      registers,
    }),
    requestDuration: new Histogram({
      name: "impressionist_request_duration_seconds",
      help: "Time to answer a request, in seconds",
      buckets: REQUEST_DURATION_BUCKETS,
      registers,
    }),
    cacheHits: new Counter({
      name: "impressionist_cache_hits_total",
      help: "Cache lookups that found an entry, by cache",
      labelNames: ["cache"],
      registers,
    }),
    cacheMisses: new Counter({
      name: "impressionist_cache_misses_total",
      help: "Cache lookups that found no entry, by cache",
      labelNames: ["cache"],
      registers,
    }),
    sourceBytes: new Counter({
      name: "impressionist_source_bytes_total",
      help: "Source bytes read from storages, by storage",
      labelNames: ["storage"],
      registers,
    }),
    errors: new Counter({
      name: "impressionist_errors_total",
      help: "Errors, by type",
      labelNames: ["type"],
      registers,
    }),
    staleResults: new Counter({
      name: "impressionist_stale_results_total",
      help: "Results served stale because their storage failed (within staleIfError), by storage",
      labelNames: ["storage"],
      registers,
    }),
    sharedStoreErrors: new Counter({
      name: "impressionist_shared_store_errors_total",
      help: "Failed or timed-out reads and writes of the shared result store, by operation",
      labelNames: ["operation"],
      registers,
    }),
  };
}
