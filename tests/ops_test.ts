import assert from "node:assert/strict";
import { join } from "node:path";
import { encode, photoLike, startTestServer } from "./helpers.ts";

/** Parses Prometheus text into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(match, `bad metrics line: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ""}`, Number(match[3]));
  }
  return samples;
}

Deno.test("ops: metrics counters move by the right amounts", async () => {
  const server = await startTestServer({ "a.png": await encode(photoLike(40, 30), "png") });
  const base = server.url.replace("/impressionist", "");
  const scrape = async () => parseMetrics(await (await fetch(`${base}/metrics`)).text());
  try {
    const before = await scrape();
    const get = async (path: string) => (await fetch(`${server.url}${path}`)).body?.cancel();
    await get("/s,20x0/png/files/a.png");
    await get("/s,20x0/png/files/a.png");
    await get("/zz/png/files/a.png");
    await get("/gs/png/files/missing.png");
    const after = await scrape();
    const moved = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    // Two images, and the first scrape, counted once it was answered.
    assert.equal(moved('impressionist_requests_total{status="200"}'), 3);
    assert.equal(moved('impressionist_requests_total{status="400"}'), 1);
    assert.equal(moved('impressionist_requests_total{status="404"}'), 1);
    assert.equal(moved('impressionist_errors_total{type="bad_request"}'), 1);
    assert.equal(moved('impressionist_errors_total{type="not_found"}'), 1);
    assert.equal(moved('impressionist_cache_misses_total{cache="result"}'), 1);
    assert.equal(moved('impressionist_cache_hits_total{cache="result"}'), 1);
    assert.equal(moved('impressionist_cache_misses_total{cache="source"}'), 1);
    assert.equal(moved('impressionist_cache_hits_total{cache="source"}'), 1);
    const size = (await Deno.stat(join(server.dir, "files", "a.png"))).size;
    assert.equal(moved('impressionist_source_bytes_total{storage="files"}'), size);
    assert.ok(moved("impressionist_request_duration_seconds_count") >= 4);
    assert.equal(after.get("impressionist_queue_length"), 0);
    assert.equal(after.get("impressionist_workers_busy"), 0);
  } finally {
    await server.close();
  }
});

Deno.test("ops: metrics can live on their own port", async () => {
  const server = await startTestServer({}, { http: { metricsPort: 0 } });
  try {
    // Port 0 means "same port", so ask for a real one through a second start.
    assert.equal(server.app.metricsAddr, undefined);
  } finally {
    await server.close();
  }
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const split = await startTestServer({}, { http: { metricsPort: port } });
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /# TYPE impressionist_requests_total counter/);
    const main = await fetch(split.url.replace("/impressionist", "/metrics"));
    await main.body?.cancel();
    assert.equal(main.status, 404);
  } finally {
    await split.close();
  }
});

Deno.test("ops: request ids are echoed when sane and generated otherwise", async () => {
  const server = await startTestServer({});
  try {
    const health = server.url.replace("/impressionist", "/health");
    const echoed = await fetch(health, { headers: { "x-request-id": "abc-123" } });
    await echoed.body?.cancel();
    assert.equal(echoed.headers.get("x-request-id"), "abc-123");
    const insane = await fetch(health, { headers: { "x-request-id": "a b<script>" } });
    await insane.body?.cancel();
    const generated = insane.headers.get("x-request-id")!;
    assert.match(generated, /^[0-9a-f-]{36}$/);
    const error = await fetch(`${server.url}/zz/png/files/x.png`);
    await error.body?.cancel();
    assert.match(error.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
  } finally {
    await server.close();
  }
});
