import assert from "node:assert/strict";
import { createServerMetrics, type Labels, MetricsRegistry } from "../lib/http/metrics.ts";

interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** Parses the text format; every sample must belong to a family declared by `# TYPE` before. */
function parse(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n").slice(0, -1)) {
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      types.set(name, type);
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(match, `Cannot parse the sample line "${line}"`);
    const [, name, body = "", value] = match;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(
      family === name ? types.has(name) : types.get(family) === "histogram",
      `Sample "${name}" has no # TYPE line`,
    );
    samples.push({ name, labels: parseLabels(body), value: parseValue(value) });
  }
  return samples;
}

function parseLabels(body: string): Labels {
  const labels: Labels = {};
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
  while (pair.lastIndex < body.length) {
    const match = pair.exec(body);
    assert.ok(match, `Cannot parse the labels "${body}"`);
    labels[match[1]] = match[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  const value = Number(text);
  assert.ok(text === "NaN" || !Number.isNaN(value), `Cannot parse the value "${text}"`);
  return value;
}

/** The value of the one sample named `name` with exactly `labels`. */
function valueOf(samples: Sample[], name: string, labels: Labels = {}): number {
  const found = samples.filter((s) => s.name === name && isDeepEqual(s.labels, labels));
  assert.equal(found.length, 1, `Expected one sample ${name}${JSON.stringify(labels)}`);
  return found[0].value;
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

Deno.test("Counter.inc() moves each series by the given amount", () => {
  const registry = new MetricsRegistry();
  const plain = registry.counter("plain_total", "Unlabelled");
  const labelled = registry.counter("labelled_total", "Labelled", ["status"]);
  assert.equal(valueOf(parse(registry.render()), "plain_total"), 0);

  plain.inc();
  plain.inc(undefined, 4);
  labelled.inc({ status: "200" });
  labelled.inc({ status: "200" }, 2);
  labelled.inc({ status: "404" });

  const samples = parse(registry.render());
  assert.equal(valueOf(samples, "plain_total"), 5);
  assert.equal(valueOf(samples, "labelled_total", { status: "200" }), 3);
  assert.equal(valueOf(samples, "labelled_total", { status: "404" }), 1);
  assert.throws(() => plain.inc(undefined, -1), RangeError);
  assert.throws(() => plain.inc(undefined, NaN), RangeError);
});

Deno.test("Histogram renders cumulative buckets, +Inf, _sum and _count", () => {
  const registry = new MetricsRegistry();
  const histogram = registry.histogram("took_seconds", "Durations", [0.1, 1, 10], ["route"]);
  for (const value of [0.05, 0.1, 0.5, 20]) histogram.observe({ route: "a" }, value);
  histogram.observe({ route: "b" }, 2);

  const samples = parse(registry.render());
  const bucket = (route: string, le: string) =>
    valueOf(samples, "took_seconds_bucket", { route, le });
  assert.deepEqual(["0.1", "1", "10", "+Inf"].map((le) => bucket("a", le)), [2, 3, 3, 4]);
  assert.deepEqual(["0.1", "1", "10", "+Inf"].map((le) => bucket("b", le)), [0, 0, 1, 1]);
  assert.equal(valueOf(samples, "took_seconds_count", { route: "a" }), 4);
  assert.ok(Math.abs(valueOf(samples, "took_seconds_sum", { route: "a" }) - 20.65) < 1e-9);
  assert.equal(valueOf(samples, "took_seconds_sum", { route: "b" }), 2);
});

Deno.test("MetricsRegistry.render() escapes label values so they round-trip", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("odd_total", "Odd labels", ["value"]);
  const odd = 'back\\slash "quoted"\nnew line, {brace} a="b"';
  counter.inc({ value: odd }, 7);
  counter.inc({ value: "" });

  const samples = parse(registry.render());
  assert.equal(valueOf(samples, "odd_total", { value: odd }), 7);
  assert.equal(valueOf(samples, "odd_total", { value: "" }), 1);
});

Deno.test("MetricsRegistry.render() escapes backslashes and newlines in help", () => {
  const registry = new MetricsRegistry();
  registry.counter("help_total", "Two\nlines \\ here");
  assert.match(registry.render(), /^# HELP help_total Two\\nlines \\\\ here\n/);
});

Deno.test("Gauge with a collect callback reads the current value at render time", () => {
  const registry = new MetricsRegistry();
  let queued = 3;
  let busy = 1;
  const metrics = createServerMetrics(registry, {
    queueLength: () => queued,
    workersBusy: () => busy,
  });
  assert.equal(valueOf(parse(registry.render()), "impressionist_queue_length"), 3);
  queued = 7;
  busy = 4;
  const samples = parse(registry.render());
  assert.equal(valueOf(samples, "impressionist_queue_length"), 7);
  assert.equal(valueOf(samples, "impressionist_workers_busy"), 4);
  assert.throws(() => metrics.queueLength.set(1), TypeError);
});

Deno.test("Gauge.set() replaces the value of a series", () => {
  const registry = new MetricsRegistry();
  const plain = registry.gauge("plain", "Unlabelled");
  const labelled = registry.gauge("labelled", "Labelled", ["pool"]);
  plain.set(5);
  plain.set(2);
  labelled.set({ pool: "a" }, -1.5);
  const samples = parse(registry.render());
  assert.equal(valueOf(samples, "plain"), 2);
  assert.equal(valueOf(samples, "labelled", { pool: "a" }), -1.5);
});

Deno.test("createServerMetrics() registers the server's metrics under their names", () => {
  const registry = new MetricsRegistry();
  const metrics = createServerMetrics(registry);
  metrics.requests.inc({ status: "200" });
  metrics.requestDuration.observe(0.02);
  metrics.cacheHits.inc({ cache: "source" });
  metrics.cacheMisses.inc({ cache: "result" });
  metrics.sourceBytes.inc({ storage: "local" }, 1234);
  metrics.errors.inc({ type: "NotFound" });

  const text = registry.render();
  assert.ok(text.endsWith("\n"));
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(types, [
    "impressionist_requests_total counter",
    "impressionist_request_duration_seconds histogram",
    "impressionist_queue_length gauge",
    "impressionist_workers_busy gauge",
    "impressionist_cache_hits_total counter",
    "impressionist_cache_misses_total counter",
    "impressionist_source_bytes_total counter",
    "impressionist_errors_total counter",
    "impressionist_shared_store_errors_total counter",
  ]);
  const samples = parse(text);
  assert.equal(valueOf(samples, "impressionist_source_bytes_total", { storage: "local" }), 1234);
  assert.equal(
    valueOf(samples, "impressionist_request_duration_seconds_bucket", { le: "0.01" }),
    0,
  );
  assert.equal(
    valueOf(samples, "impressionist_request_duration_seconds_bucket", { le: "0.025" }),
    1,
  );
  assert.equal(
    samples.filter((s) => s.name === "impressionist_request_duration_seconds_bucket").length,
    12,
  );
});

Deno.test("MetricsRegistry rejects taken names, bad names and mismatched labels", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("taken_total", "Taken", ["a"]);
  assert.throws(() => registry.gauge("taken_total", "Again"), /already registered/);
  assert.throws(() => registry.counter("bad-name", "Bad"), /Invalid metric name "bad-name"/);
  assert.throws(() => registry.counter("x_total", "X", ["__x"]), /Invalid label name "__x"/);
  assert.throws(() => registry.histogram("h", "H", [1, 1]), /strictly increasing/);
  assert.throws(() => registry.histogram("h2", "H", [1], ["le"]), /reserved label "le"/);
  assert.throws(() => counter.inc(), /takes labels "a", got none/);
  assert.throws(() => counter.inc({ a: "1", b: "2" }), /takes labels "a", got "a", "b"/);
});
