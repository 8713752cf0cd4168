import assert from "node:assert/strict";
import { createServerMetrics } from "../lib/http/metrics.ts";

type Labels = Record<string, string>;

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
    if (line === "" || line.startsWith("#")) continue;
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
  // prom-client writes "Nan"; Prometheus reads NaN in any case.
  assert.ok(
    text.toLowerCase() === "nan" || !Number.isNaN(value),
    `Cannot parse the value "${text}"`,
  );
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

Deno.test("createServerMetrics() registers the server's metrics under their documented names", async () => {
  let queued = 3;
  const metrics = createServerMetrics({ queueLength: () => queued, workersBusy: () => 2 });
  metrics.requests.inc({ status: "200" });
  metrics.requestDuration.observe(0.02);
  metrics.cacheHits.inc({ cache: "source" });
  metrics.cacheMisses.inc({ cache: "result" });
  metrics.sourceBytes.inc({ storage: "local" }, 1234);
  metrics.errors.inc({ type: "not_found" });

  const text = await metrics.registry.metrics();
  const types = new Map(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]] as const),
  );
  for (
    const [name, type] of [
      ["impressionist_requests_total", "counter"],
      ["impressionist_request_duration_seconds", "histogram"],
      ["impressionist_queue_length", "gauge"],
      ["impressionist_workers_busy", "gauge"],
      ["impressionist_cache_hits_total", "counter"],
      ["impressionist_cache_misses_total", "counter"],
      ["impressionist_source_bytes_total", "counter"],
      ["impressionist_errors_total", "counter"],
      ["impressionist_shared_store_errors_total", "counter"],
    ]
  ) {
    assert.equal(types.get(name), type, name);
  }
  const samples = parse(text);
  assert.equal(valueOf(samples, "impressionist_requests_total", { status: "200" }), 1);
  assert.equal(valueOf(samples, "impressionist_source_bytes_total", { storage: "local" }), 1234);
  assert.equal(valueOf(samples, "impressionist_errors_total", { type: "not_found" }), 1);
  assert.equal(valueOf(samples, "impressionist_queue_length"), 3);
  assert.equal(valueOf(samples, "impressionist_workers_busy"), 2);
  assert.equal(
    valueOf(samples, "impressionist_request_duration_seconds_bucket", { le: "0.01" }),
    0,
  );
  assert.equal(
    valueOf(samples, "impressionist_request_duration_seconds_bucket", { le: "0.025" }),
    1,
  );
  queued = 7;
  const again = parse(await metrics.registry.metrics());
  assert.equal(valueOf(again, "impressionist_queue_length"), 7, "gauges read at scrape time");
});

Deno.test("createServerMetrics() includes the process metrics that show runaway work", async () => {
  const metrics = createServerMetrics({ queueLength: () => 0, workersBusy: () => 0 });
  const samples = parse(await metrics.registry.metrics());
  const cpu = valueOf(samples, "process_cpu_seconds_total");
  assert.ok(cpu > 0, "CPU time is counted");
  assert.ok(valueOf(samples, "process_resident_memory_bytes") > 10e6, "RSS is reported");
  assert.ok(samples.some((s) => s.name === "nodejs_eventloop_lag_seconds"));
});

Deno.test("each app's metrics live in a registry of their own", async () => {
  const a = createServerMetrics({ queueLength: () => 0, workersBusy: () => 0 });
  const b = createServerMetrics({ queueLength: () => 0, workersBusy: () => 0 });
  a.requests.inc({ status: "404" });
  assert.equal(
    valueOf(parse(await a.registry.metrics()), "impressionist_requests_total", {
      status: "404",
    }),
    1,
  );
  assert.ok(!(await b.registry.metrics()).includes('status="404"'));
});

Deno.test("docs/operations.md's metrics table names exactly the impressionist_ metrics served", async () => {
  const docs = await Deno.readTextFile(new URL("../docs/operations.md", import.meta.url));
  const section = docs.slice(docs.indexOf("## Metrics"), docs.indexOf("## Access log"));
  const table = section.split("\n").filter((line) => line.startsWith("| `"));
  const documented = new Set(table.flatMap((line) =>
    [...line.matchAll(/`(impressionist_\w+)`/g)]
      .map((m) => m[1])
  ));
  const metrics = createServerMetrics({ queueLength: () => 0, workersBusy: () => 0 });
  const text = await metrics.registry.metrics();
  const served = new Set(
    [...text.matchAll(/^# TYPE (impressionist_\w+) /gm)].map((m) => m[1]),
  );
  assert.deepEqual([...documented].sort(), [...served].sort());
});
