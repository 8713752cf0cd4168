/**
 * A minimal Prometheus metrics registry (counters, gauges, histograms) rendered in the text
 * exposition format 0.0.4, and the named metrics of the server.
 */

/** Label values of one series, keyed by label name. */
export type Labels = Record<string, string>;

/** The `Content-Type` of the text exposition format rendered by {@linkcode MetricsRegistry}. */
export const metricsContentType = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** What the registry needs to render one metric family. */
interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  samples(): string[];
}

/**
 * The series of one metric, keyed by their rendered label pairs (`a="x",b="y"`, in the order of
 * the label names), which is stable and unique because escaping is reversible.
 */
class SeriesMap<S> {
  readonly #series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly labelNames: readonly string[],
    readonly create: () => S,
  ) {
    if (!METRIC_NAME.test(name)) throw new TypeError(`Invalid metric name "${name}"`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new TypeError(`Invalid label name "${label}" for metric "${name}"`);
      }
    }
    if (new Set(labelNames).size !== labelNames.length) {
      throw new TypeError(`Duplicate label names for metric "${name}": ${quoteAll(labelNames)}`);
    }
    // An unlabelled metric has exactly one series, rendered from the start.
    if (labelNames.length === 0) this.get();
  }

  /** The series for `labels`, created on first use; the label names must match exactly. */
  get(labels: Labels = {}): S {
    const given = Object.keys(labels);
    if (
      given.length !== this.labelNames.length ||
      !this.labelNames.every((n) => Object.hasOwn(labels, n))
    ) {
      throw new TypeError(
        `Metric "${this.name}" takes labels ${quoteAll(this.labelNames)}, got ${quoteAll(given)}`,
      );
    }
    const key = this.labelNames.map((n) => `${n}="${escapeLabelValue(labels[n])}"`).join(",");
    let series = this.#series.get(key);
    if (series === undefined) {
      series = this.create();
      this.#series.set(key, series);
    }
    return series;
  }

  /** Each series as its rendered label pairs and its state. */
  entries(): IterableIterator<[string, S]> {
    return this.#series.entries();
  }
}

/** A value that only goes up, such as a number of requests. */
export class Counter implements Metric {
  readonly type = "counter";
  readonly #series: SeriesMap<{ value: number }>;

  constructor(readonly name: string, readonly help: string, labelNames: readonly string[] = []) {
    this.#series = new SeriesMap(name, labelNames, () => ({ value: 0 }));
  }

  /**
   * Adds `by` to the series for `labels`.
   * @throws {RangeError} When `by` is negative or NaN.
   */
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Counter "${this.name}" cannot add ${by}`);
    this.#series.get(labels).value += by;
  }

  samples(): string[] {
    return [...this.#series.entries()].map(([labels, s]) => sample(this.name, labels, s.value));
  }
}

/**
 * A value that goes up and down. Either it is `set`, or it is read from `collect` each time
 * the registry renders (then it has no labels).
 */
export class Gauge implements Metric {
  readonly type = "gauge";
  readonly #series: SeriesMap<{ value: number }>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[] = [],
    readonly collect?: () => number,
  ) {
    if (collect && labelNames.length > 0) {
      throw new TypeError(`Gauge "${name}" with a collect callback cannot have labels`);
    }
    this.#series = new SeriesMap(name, labelNames, () => ({ value: 0 }));
  }

  /**
   * Sets the series for `labels` (or the unlabelled series) to `value`.
   * @throws {TypeError} When the gauge is read from a collect callback.
   */
  set(value: number): void;
  set(labels: Labels, value: number): void;
  set(labelsOrValue: Labels | number, value?: number): void {
    if (this.collect) throw new TypeError(`Gauge "${this.name}" is read from a callback`);
    const [labels, v] = splitArgs(labelsOrValue, value);
    this.#series.get(labels).value = v;
  }

  samples(): string[] {
    if (this.collect) return [sample(this.name, "", this.collect())];
    return [...this.#series.entries()].map(([labels, s]) => sample(this.name, labels, s.value));
  }
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram implements Metric {
  readonly type = "histogram";
  readonly buckets: readonly number[];
  // counts[i] holds the observations in (buckets[i - 1], buckets[i]]; +Inf is the total count.
  readonly #series: SeriesMap<{ counts: number[]; sum: number; count: number }>;

  /** @throws {TypeError} When the buckets are not finite and strictly increasing. */
  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ) {
    if (!buckets.every((b, i) => Number.isFinite(b) && (i === 0 || b > buckets[i - 1]))) {
      throw new TypeError(
        `Histogram "${name}" buckets must be finite and strictly increasing, got ${buckets}`,
      );
    }
    if (labelNames.includes("le")) {
      throw new TypeError(`Histogram "${name}" cannot use the reserved label "le"`);
    }
    this.buckets = [...buckets];
    this.#series = new SeriesMap(name, labelNames, () => ({
      counts: buckets.map(() => 0),
      sum: 0,
      count: 0,
    }));
  }

  /** Records `value` in the series for `labels` (or the unlabelled series). */
  observe(value: number): void;
  observe(labels: Labels, value: number): void;
  observe(labelsOrValue: Labels | number, value?: number): void {
    const [labels, v] = splitArgs(labelsOrValue, value);
    const series = this.#series.get(labels);
    const bucket = this.buckets.findIndex((le) => v <= le);
    if (bucket !== -1) series.counts[bucket]++;
    series.sum += v;
    series.count++;
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const [labels, { counts, sum, count }] of this.#series.entries()) {
      const withLe = (le: number) => [labels, `le="${formatValue(le)}"`].filter(Boolean).join(",");
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += counts[i];
        lines.push(sample(`${this.name}_bucket`, withLe(le), cumulative));
      });
      lines.push(sample(`${this.name}_bucket`, withLe(Infinity), count));
      lines.push(sample(`${this.name}_sum`, labels, sum));
      lines.push(sample(`${this.name}_count`, labels, count));
    }
    return lines;
  }
}

/**
 * Holds metrics in registration order and renders them in the Prometheus text format.
 *
 * @example
 * ```ts
 * const registry = new MetricsRegistry();
 * const requests = registry.counter("requests_total", "Requests answered", ["status"]);
 * requests.inc({ status: "200" });
 * registry.render(); // "# HELP requests_total …\n# TYPE …\nrequests_total{status=\"200\"} 1\n"
 * ```
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  /** Registers a counter. @throws {TypeError} When the name is taken or invalid. */
  counter(name: string, help: string, labelNames?: readonly string[]): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  /**
   * Registers a gauge; with `collect`, its value is read at render time.
   * @throws {TypeError} When the name is taken or invalid.
   */
  gauge(
    name: string,
    help: string,
    labelNames?: readonly string[],
    collect?: () => number,
  ): Gauge {
    return this.#add(new Gauge(name, help, labelNames, collect));
  }

  /** Registers a histogram. @throws {TypeError} When the name is taken or invalid. */
  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames?: readonly string[],
  ): Histogram {
    return this.#add(new Histogram(name, help, buckets, labelNames));
  }

  /** Every metric in the text exposition format 0.0.4; each line ends with a newline. */
  render(): string {
    const lines: string[] = [];
    for (const metric of this.#metrics.values()) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      lines.push(`# TYPE ${metric.name} ${metric.type}`);
      lines.push(...metric.samples());
    }
    return lines.map((line) => `${line}\n`).join("");
  }

  #add<M extends Metric>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new TypeError(`Metric "${metric.name}" is already registered`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }
}

/** Callbacks that read the pool's gauges at render time; without one, the gauge is `set`. */
export interface ServerCollectors {
  queueLength?: () => number;
  workersBusy?: () => number;
}

/** The metrics the server records. */
export interface ServerMetrics {
  /** `impressionist_requests_total{status}` */
  requests: Counter;
  /** `impressionist_request_duration_seconds` */
  requestDuration: Histogram;
  /** `impressionist_queue_length` */
  queueLength: Gauge;
  /** `impressionist_workers_busy` */
  workersBusy: Gauge;
  /** `impressionist_cache_hits_total{cache}` */
  cacheHits: Counter;
  /** `impressionist_cache_misses_total{cache}` */
  cacheMisses: Counter;
  /** `impressionist_source_bytes_total{storage}` */
  sourceBytes: Counter;
  /** `impressionist_errors_total{type}` */
  errors: Counter;
  /** `impressionist_shared_store_errors_total{operation}`: `get` or `put` */
  sharedStoreErrors: Counter;
}

/** Bucket bounds of `impressionist_request_duration_seconds`, in seconds. */
const REQUEST_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Registers the server's metrics in `registry`.
 * @throws {TypeError} When one of the names is already registered.
 */
export function createServerMetrics(
  registry: MetricsRegistry,
  collectors: ServerCollectors = {},
): ServerMetrics {
  return {
    requests: registry.counter(
      "impressionist_requests_total",
      "HTTP requests answered, by status code",
      ["status"],
    ),
    requestDuration: registry.histogram(
      "impressionist_request_duration_seconds",
      "Time to answer a request, in seconds",
      REQUEST_DURATION_BUCKETS,
    ),
    queueLength: registry.gauge(
      "impressionist_queue_length",
      "Jobs waiting for a worker",
      [],
      collectors.queueLength,
    ),
    workersBusy: registry.gauge(
      "impressionist_workers_busy",
      "Workers running a job",
      [],
      collectors.workersBusy,
    ),
    cacheHits: registry.counter(
      "impressionist_cache_hits_total",
      "Cache lookups that found an entry, by cache",
      ["cache"],
    ),
    cacheMisses: registry.counter(
      "impressionist_cache_misses_total",
      "Cache lookups that found no entry, by cache",
      ["cache"],
    ),
    sourceBytes: registry.counter(
      "impressionist_source_bytes_total",
      "Source bytes read from storages, by storage",
      ["storage"],
    ),
    errors: registry.counter("impressionist_errors_total", "Errors, by type", ["type"]),
    sharedStoreErrors: registry.counter(
      "impressionist_shared_store_errors_total",
      "Failed or timed-out reads and writes of the shared result store, by operation",
      ["operation"],
    ),
  };
}

function splitArgs(labelsOrValue: Labels | number, value?: number): [Labels | undefined, number] {
  return typeof labelsOrValue === "number"
    ? [undefined, labelsOrValue]
    : [labelsOrValue, value as number];
}

function sample(name: string, labels: string, value: number): string {
  return `${name}${labels ? `{${labels}}` : ""} ${formatValue(value)}`;
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(help: string): string {
  return help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function quoteAll(names: readonly string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(", ") : "none";
}
