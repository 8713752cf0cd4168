import assert from "node:assert/strict";
import { join } from "node:path";
import type { Confirmations, StoredConfirmation } from "../lib/cache/confirmations.ts";
import { HeldBytes } from "../lib/cache/held_bytes.ts";
import { SingleFlight } from "../lib/cache/single_flight.ts";
import { SourceLoader } from "../lib/cache/sources.ts";
import { ConfigReader } from "../lib/config/reader.ts";
import { Unavailable } from "../lib/errors.ts";
import { Deadlines } from "../lib/flow/deadlines.ts";
import { createLocalStorage } from "../storages/local.ts";
import type { Storage } from "../storages/storage.ts";

Deno.test("SourceLoader: a hit revalidates without reading, a changed file is read anew", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "a.txt"), "one");
    const reader = ConfigReader.of({ name: "t", type: "local", path: dir }, "storages[0]");
    reader.string("name");
    reader.string("type");
    const local = await createLocalStorage({ name: "t", type: "local", reader }, dir);
    let reads = 0;
    const counting: Storage = {
      async get(path, options) {
        const result = await local.get(path, options);
        if (result !== "not-modified") reads++;
        return result;
      },
    };
    const held = new HeldBytes(1e6);
    const loader = new SourceLoader(
      new Map([["t", counting]]),
      { entries: 10, bytes: 1e6 },
      1e6,
      held,
      1e6,
    );
    const signal = new AbortController().signal;
    const text = async () =>
      new TextDecoder().decode((await loader.load("t", "a.txt", signal)).bytes);
    assert.equal(await text(), "one");
    assert.equal((await loader.load("t", "a.txt", signal)).cache, "hit");
    assert.equal(reads, 1);
    await Deno.writeTextFile(join(dir, "a.txt"), "two!");
    assert.equal(await text(), "two!");
    assert.equal(reads, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SingleFlight: concurrent callers share one call; only the first starts it", async () => {
  const flights = new SingleFlight<number>();
  let calls = 0;
  const gate = Promise.withResolvers<number>();
  const signal = new AbortController().signal;
  const a = flights.join("k", signal, () => (calls++, gate.promise));
  const b = flights.join("k", signal, () => (calls++, gate.promise));
  assert.deepEqual([a.started, b.started], [true, false]);
  gate.resolve(7);
  assert.deepEqual(await Promise.all([a.result, b.result]), [7, 7]);
  assert.equal(calls, 1);
  const c = flights.join("k", signal, () => Promise.resolve(8));
  assert.equal(c.started, true, "a finished call is not shared with later callers");
  assert.equal(await c.result, 8);
});

Deno.test("SingleFlight: a waiter whose deadline passes gets 503; the others keep the call", async () => {
  const flights = new SingleFlight<string>();
  let shared: AbortSignal | undefined;
  const gate = Promise.withResolvers<string>();
  const first = new AbortController();
  const second = new AbortController();
  const a = flights.join("k", first.signal, (signal) => (shared = signal, gate.promise));
  const b = flights.join("k", second.signal, () => Promise.resolve("never"));
  first.abort();
  await assert.rejects(a.result, Unavailable);
  assert.equal(shared!.aborted, false, "the call runs on for the second waiter");
  gate.resolve("done");
  assert.equal(await b.result, "done");
});

Deno.test("SingleFlight: the call is aborted when its last waiter has gone, and that is no 500", async () => {
  const flights = new SingleFlight<string>();
  let shared: AbortSignal | undefined;
  const caller = new AbortController();
  const joined = flights.join("k", caller.signal, (signal) => {
    shared = signal;
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(new Error("aborted")))
    );
  });
  caller.abort();
  await assert.rejects(joined.result, Unavailable);
  assert.equal(shared!.aborted, true);
  const late = new AbortController();
  late.abort();
  await assert.rejects(
    flights.join("k", late.signal, () => Promise.resolve("x")).result,
    Unavailable,
  );
});

Deno.test("HeldBytes: a shared buffer counts once; the bound refuses with 503 and frees on release", () => {
  const held = new HeldBytes(100);
  const a = new ArrayBuffer(60);
  const b = new ArrayBuffer(50);
  const releaseA1 = held.hold(a);
  const releaseA2 = held.hold(a);
  assert.equal(held.bytes, 60);
  assert.throws(() => held.hold(b), Unavailable);
  releaseA1();
  releaseA1();
  assert.equal(held.bytes, 60, "one holder is left");
  releaseA2();
  assert.equal(held.bytes, 0);
  const releaseB = held.hold(b);
  held.checkRoom();
  const c = new ArrayBuffer(50);
  held.hold(c);
  assert.equal(held.bytes, 100);
  assert.throws(() => held.checkRoom(), Unavailable, "at the bound, no new read starts");
  releaseB();
  held.checkRoom();
});

Deno.test("SourceLoader: a read past the held-bytes bound is refused before the storage is asked", async () => {
  let reads = 0;
  const storage: Storage = {
    get() {
      reads++;
      return Promise.resolve({ bytes: new Uint8Array(80), validator: `v${reads}` });
    },
  };
  const held = new HeldBytes(100);
  const loader = new SourceLoader(
    new Map([["t", storage]]),
    { entries: 0, bytes: 0 },
    1e6,
    held,
    1e6,
  );
  const signal = new AbortController().signal;
  const first = await loader.load("t", "a", signal);
  await assert.rejects(loader.load("t", "b", signal), Unavailable);
  assert.equal(reads, 2, "the second read happened, but its bytes were not kept");
  held.hold(new ArrayBuffer(20));
  await assert.rejects(loader.load("t", "c", signal), Unavailable);
  assert.equal(reads, 2, "no read at all once the bound is reached");
  first.release();
  assert.equal(held.bytes, 20);
});

Deno.test("Deadlines: a signal aborts with a TimeoutError after its time, unless ended", async () => {
  const deadlines = new Deadlines();
  try {
    const short = deadlines.start(30);
    const ended = deadlines.start(30);
    const long = deadlines.start(5000);
    ended.end();
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(short.signal.aborted, true);
    assert.equal((short.signal.reason as DOMException).name, "TimeoutError");
    assert.equal(ended.signal.aborted, false);
    assert.equal(long.signal.aborted, false, "another timeout keeps its own time");
    const later = deadlines.start(30);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(later.signal.aborted, true, "a deadline started after others expired still fires");
  } finally {
    deadlines.close();
  }
});

Deno.test("SourceLoader: concurrent reads reserve their bytes before allocating them", async () => {
  const gate = Promise.withResolvers<void>();
  let allocated = 0;
  const storage: Storage = {
    async get(_path, options) {
      options.reserve?.(60); // the storage knows the size (a stat, a Content-Length)
      allocated += 60;
      await gate.promise;
      return { bytes: new Uint8Array(60), validator: "v" };
    },
  };
  const held = new HeldBytes(100);
  const loader = new SourceLoader(
    new Map([["t", storage]]),
    { entries: 0, bytes: 0 },
    1e6,
    held,
    1e6,
  );
  const signal = new AbortController().signal;
  const first = loader.load("t", "a", signal);
  await assert.rejects(loader.load("t", "b", signal), Unavailable);
  assert.equal(allocated, 60, "the second read stopped before allocating");
  assert.equal(held.bytes, 60);
  gate.resolve();
  const source = await first;
  assert.equal(held.bytes, 60, "the reservation became the held buffer");
  source.release();
  assert.equal(held.bytes, 0);
});

Deno.test("SourceLoader.recall: a kept note counts as a confirmation within its window, once looked for", async () => {
  const minute = 60_000;
  const notes = new Map<string, StoredConfirmation>([
    ["fresh.jpg", { validator: "v1", at: Date.now() - 10_000 }],
    ["old.jpg", { validator: "v2", at: Date.now() - 5 * minute }],
    ["future.jpg", { validator: "v3", at: Date.now() + minute }],
    ["gone.jpg", { validator: "v4", at: Date.now() - 90 * minute }],
  ]);
  const loads: string[] = [];
  const kept = {
    load(_storage: string, path: string) {
      loads.push(path);
      return Promise.resolve(notes.get(path));
    },
    save: () => Promise.resolve(),
  } as unknown as Confirmations;
  const web: Storage = {
    get: () => Promise.reject(new Error("not asked")),
    freshness: { revalidateMs: minute, staleIfErrorMs: 60 * minute },
  };
  const loader = new SourceLoader(
    new Map([["web", web]]),
    { entries: 10, bytes: 1e6 },
    1e6,
    new HeldBytes(1e6),
    1e6,
    kept,
  );
  for (const path of [...notes.keys(), "none.jpg"]) await loader.recall("web", path);
  assert.equal(loader.confirmed("web", "fresh.jpg", "fresh")?.validator, "v1");
  assert.equal(loader.confirmed("web", "old.jpg", "fresh"), undefined, "past revalidate");
  assert.equal(loader.confirmed("web", "old.jpg", "stale")?.validator, "v2");
  assert.equal(loader.confirmed("web", "future.jpg", "stale"), undefined, "dated ahead");
  assert.equal(loader.confirmed("web", "gone.jpg", "stale"), undefined, "past staleIfError");
  assert.equal(loader.confirmed("web", "none.jpg", "stale"), undefined);
  // Looked for once: a source asked for again (a 404 flooded, say) costs no second lookup.
  for (const path of [...notes.keys(), "none.jpg"]) {
    assert.equal(loader.recall("web", path), undefined, path);
  }
  assert.deepEqual(loads, [...notes.keys(), "none.jpg"]);
});
