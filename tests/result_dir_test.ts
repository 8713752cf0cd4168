import assert from "node:assert/strict";
import { join } from "node:path";
import { type App, startApp } from "../lib/app.ts";
import { DISK_BLOCK_BYTES, ResultDirectory } from "../lib/cache/result_dir.ts";
import { ResultCache, type ResultTier } from "../lib/cache/results.ts";
import { SEAL_BYTES, Sealer } from "../lib/cache/sealed.ts";
import { parseConfig } from "../lib/config/config.ts";
import type { Logger } from "../lib/log.ts";
import { decode, encode, photoLike, quietLog, startTestServer } from "./helpers.ts";

/** A result of `size` bytes, all `fill`. */
const result = (size: number, fill: number) => new Uint8Array(size).fill(fill);

async function withDir(run: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-results-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * File names in `dir` and the disk space they take (their blocks). An evicted file is removed
 * without being waited for, so one listed may be gone by its stat: it is not there.
 */
async function listing(dir: string): Promise<{ names: string[]; bytes: number }> {
  const names: string[] = [];
  let bytes = 0;
  for await (const entry of Deno.readDir(dir)) {
    const stat = await Deno.stat(join(dir, entry.name)).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (!stat) continue;
    names.push(entry.name);
    bytes += stat.blocks! * 512;
  }
  return { names: names.sort(), bytes };
}

Deno.test("result dir: the byte bound evicts the least recently used file, reads count as use", async () => {
  await withDir(async (dir) => {
    const file = DISK_BLOCK_BYTES;
    const results = await ResultDirectory.open(dir, 3 * file);
    await results.write("a", result(file, 1));
    await results.write("b", result(file, 2));
    await results.write("c", result(file, 3));
    assert.deepEqual(await results.read("a"), result(file, 1));
    await results.write("d", result(file, 4));
    assert.deepEqual((await listing(dir)).names, ["a", "c", "d"]);
    assert.equal(await results.read("b"), undefined);
    assert.deepEqual(await results.read("d"), result(file, 4));
    // One byte takes a block on disk: over the bound, it pushes out the next oldest, c.
    await results.write("e", result(1, 5));
    assert.deepEqual((await listing(dir)).names, ["a", "d", "e"]);
    const { bytes } = await listing(dir);
    assert.ok(bytes <= 3 * file, `${bytes} bytes on disk`);
    assert.deepEqual(results.stats(), { files: 3, bytes });
  });
});

Deno.test("result dir: a file exactly at the bound is kept, one byte more is not written", async () => {
  await withDir(async (dir) => {
    const results = await ResultDirectory.open(dir, DISK_BLOCK_BYTES);
    await results.write("fits", result(DISK_BLOCK_BYTES, 7));
    assert.deepEqual(await results.read("fits"), result(DISK_BLOCK_BYTES, 7));
    await results.write("over", result(DISK_BLOCK_BYTES + 1, 7));
    assert.deepEqual((await listing(dir)).names, ["fits"]);
    assert.equal(await results.read("over"), undefined);
  });
  await withDir(async (dir) => {
    const results = await ResultDirectory.open(dir, 0);
    await results.write("any", result(1, 0));
    assert.deepEqual((await listing(dir)).names, []);
  });
});

Deno.test("result dir: a start removes temporary files and evicts the least recently used beyond the bound", async () => {
  await withDir(async (dir) => {
    const file = DISK_BLOCK_BYTES;
    const before = await ResultDirectory.open(dir, 10 * file);
    for (const [i, key] of ["old", "middle", "new"].entries()) {
      await before.write(key, result(file, i));
      // Times a day apart, as if used long ago, in this order.
      const used = new Date(Date.UTC(2026, 0, 1 + i));
      await Deno.utime(join(dir, key), used, used);
    }
    await Deno.writeFile(join(dir, "new.5f0c.tmp"), result(10, 0));
    await Deno.writeFile(join(dir, "half-written.tmp"), result(10, 0));

    const after = await ResultDirectory.open(dir, 2 * file);
    assert.deepEqual((await listing(dir)).names, ["middle", "new"]);
    assert.deepEqual(after.stats(), { files: 2, bytes: 2 * file });
    assert.deepEqual(await after.read("middle"), result(file, 1));
    // Reading "middle" made "new" the least recently used, on disk too.
    const again = await ResultDirectory.open(dir, file);
    assert.deepEqual((await listing(dir)).names, ["middle"]);
    assert.equal(again.stats().files, 1);
  });
});

Deno.test("result dir: tiny results are counted in whole disk blocks, so the bound holds on disk", async () => {
  await withDir(async (dir) => {
    const bound = 8 * DISK_BLOCK_BYTES;
    const results = await ResultDirectory.open(dir, bound);
    // 1x1 thumbnails: a few dozen bytes each, a block each on disk.
    for (let i = 0; i < 100; i++) await results.write(`tiny-${i}`, result(60, i));
    const { names, bytes } = await listing(dir);
    assert.ok(bytes <= bound, `${names.length} files take ${bytes} bytes of disk, over ${bound}`);
    assert.equal(names.length, 8);
    assert.deepEqual(results.stats(), { files: 8, bytes });
  });
});

Deno.test("result dir: a directory removed while running is made again; a failing one is logged once a minute", async () => {
  await withDir(async (parent) => {
    const dir = join(parent, "results");
    const reasons: string[] = [];
    const results = await ResultDirectory.open(dir, 1 << 20, (reason) => reasons.push(reason));
    await results.write("a", result(100, 1));
    await Deno.remove(dir, { recursive: true });
    assert.equal(await results.read("a"), undefined);
    await results.write("b", result(100, 2));
    assert.deepEqual(await results.read("b"), result(100, 2));
    assert.deepEqual(reasons, []);
    // A file where the directory was: every write fails, as on a read-only or full disk.
    await Deno.remove(dir, { recursive: true });
    await Deno.writeFile(dir, result(1, 0));
    for (const key of ["c", "d", "e"]) await results.write(key, result(100, 3));
    assert.equal(reasons.length, 1, reasons.join("\n"));
    assert.match(reasons[0], /directory|not a directory|exists/i);
    assert.equal(await results.read("c"), undefined);
    assert.equal(await results.read("b"), undefined);
    assert.equal(results.stats().files, 0);
  });
});

const png = await encode(photoLike(40, 30), "png");
const jpeg = await encode(photoLike(40, 30), "jpeg");
const html = new TextEncoder().encode("<html><script>alert(document.domain)</script></html>");
const onlyPng = new Set(["png"] as const);

/** A result cache over `dir` that keeps what it refused. */
async function cacheOver(dir: string, secret?: string) {
  const refused: { tier: ResultTier; key: string; reason: string }[] = [];
  const cache = await ResultCache.open({
    maxBytes: 0,
    dir,
    dirMaxBytes: 1 << 20,
    secret,
    onRejected: (tier, key, reason) => refused.push({ tier, key, reason }),
  });
  return { cache, refused };
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("result cache: a damaged, truncated or misplaced file is never served, is reported and removed", async () => {
  await withDir(async (dir) => {
    const { cache, refused } = await cacheOver(dir);
    for (const key of ["flipped", "short", "moved"]) await cache.set(key, png);
    const flipped = await Deno.readFile(join(dir, "flipped"));
    flipped[SEAL_BYTES + 10] ^= 1;
    await Deno.writeFile(join(dir, "flipped"), flipped);
    await Deno.truncate(join(dir, "short"), SEAL_BYTES + png.byteLength - 1);
    // A good file copied under another key: the seal covers the key.
    await Deno.copyFile(join(dir, "moved"), join(dir, "elsewhere"));
    const reopened = await cacheOver(dir);
    for (const key of ["flipped", "short", "elsewhere"]) {
      assert.equal(await reopened.cache.get(key, onlyPng), undefined, key);
      assert.equal(await exists(join(dir, key)), false, `${key} is removed`);
    }
    assert.deepEqual(reopened.refused.map((r) => [r.tier, r.key]), [
      ["disk", "flipped"],
      ["disk", "short"],
      ["disk", "elsewhere"],
    ]);
    assert.match(reopened.refused[0].reason, /seal/);
    assert.deepEqual((await reopened.cache.get("moved", onlyPng))?.bytes, png);
    assert.equal(refused.length, 0);
  });
});

Deno.test("result cache: a validly sealed file that is not an image of the expected type is a miss, reported and removed", async () => {
  await withDir(async (dir) => {
    const sealer = new Sealer();
    await Deno.writeFile(join(dir, "page"), sealer.seal("page", html));
    await Deno.writeFile(join(dir, "other-type"), sealer.seal("other-type", jpeg));
    const disguised = new Uint8Array([...png.subarray(0, 8), ...html]);
    await Deno.writeFile(join(dir, "disguised"), sealer.seal("disguised", disguised));
    const { cache, refused } = await cacheOver(dir);
    assert.equal(await cache.get("page", onlyPng), undefined);
    assert.equal(await cache.get("other-type", onlyPng), undefined);
    assert.equal(await cache.get("disguised", onlyPng), undefined);
    assert.deepEqual(refused.map((r) => r.reason), [
      "it holds no image we know, not png",
      "it holds jpeg, not png",
      "Cannot read the PNG header: the IHDR chunk is missing",
    ]);
    assert.deepEqual(await listing(dir), { names: [], bytes: 0 });
    // `auto` allows each type its negotiation allows: JPEG is one of them.
    await Deno.writeFile(join(dir, "auto"), sealer.seal("auto", jpeg));
    const again = await cacheOver(dir);
    const found = await again.cache.get("auto", new Set(["gif", "png", "jpeg"] as const));
    assert.deepEqual([found?.type, found?.tier], ["jpeg", "disk"]);
  });
});

Deno.test("result cache: the memory tier is checked too", async () => {
  const refused: ResultTier[] = [];
  const cache = await ResultCache.open({
    maxBytes: 1 << 20,
    dirMaxBytes: 0,
    onRejected: (tier) => refused.push(tier),
  });
  await cache.set("k", html);
  assert.equal(await cache.get("k", onlyPng), undefined);
  assert.deepEqual(refused, ["memory"]);
  assert.equal(cache.stats().entries, 0, "dropped from memory");
});

/** A 64 KiB tmpfs mounted on a new directory (root only), or undefined with a printed reason. */
async function smallDisk(): Promise<{ dir: string; unmount(): Promise<void> } | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-small-disk-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
    stderr: "piped",
  }).output().catch((error) => ({ success: false, stderr: new TextEncoder().encode(`${error}`) }));
  if (!mount.success) {
    await Deno.remove(dir);
    console.log(`skipped: cannot mount a small tmpfs: ${new TextDecoder().decode(mount.stderr)}`);
    return undefined;
  }
  return {
    dir,
    async unmount() {
      await new Deno.Command("umount", { args: [dir] }).output();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("result dir: a disk that fills before the bound makes room by the least recently used, and keeps storing", async () => {
  const disk = await smallDisk();
  if (!disk) return;
  try {
    const reasons: string[] = [];
    const results = await ResultDirectory.open(disk.dir, 1 << 20, (r) => reasons.push(r));
    // 64 KiB of disk under a 1 MiB bound: the disk is full long before the bound.
    for (let i = 0; i < 20; i++) await results.write(`old-${i}`, result(DISK_BLOCK_BYTES, i));
    assert.match(
      reasons[0] ?? "",
      /No space left on device.*; removing the least recently used files/,
    );
    // Later results are still stored: each failure made room for the next write.
    let stored = 0;
    for (let i = 0; i < 10; i++) {
      await results.write(`new-${i}`, result(DISK_BLOCK_BYTES, 100 + i));
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (await results.read(`new-${i}`)) stored++;
    }
    assert.ok(stored >= 5, `${stored} of 10 new results stored on a full disk`);
    assert.equal(await results.read("old-0"), undefined, "the oldest made room");
  } finally {
    await disk.unmount();
  }
});

Deno.test("result cache: many tiny results hold no more memory than caches.result", async () => {
  const maxBytes = 8 << 20;
  const fixture = new URL("./fixtures/result_memory.ts", import.meta.url).pathname;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "--v8-flags=--expose-gc", fixture, `${maxBytes}`, "200000"],
    stderr: "inherit",
  }).output();
  assert.ok(success);
  const { grew, entries } = JSON.parse(new TextDecoder().decode(stdout));
  // Counting only the results' bytes, 8 MiB of them took ~50 MiB (~300 bytes more an entry).
  assert.ok(grew < 1.25 * maxBytes, `${entries} results grew the heap by ${grew} bytes`);
});

Deno.test("result cache: with caches.secret, a file sealed without it (or with another) is refused", async () => {
  await withDir(async (dir) => {
    const secret = "a secret of 24 characters";
    await Deno.writeFile(join(dir, "plain"), new Sealer().seal("plain", png));
    await Deno.writeFile(
      join(dir, "other"),
      new Sealer("another secret, 24 chars").seal("other", png),
    );
    await Deno.writeFile(join(dir, "good"), new Sealer(secret).seal("good", png));
    const { cache, refused } = await cacheOver(dir, secret);
    assert.equal(await cache.get("plain", onlyPng), undefined);
    assert.equal(await cache.get("other", onlyPng), undefined);
    assert.deepEqual((await cache.get("good", onlyPng))?.bytes, png);
    assert.deepEqual(refused.map((r) => r.key), ["plain", "other"]);
    assert.deepEqual((await listing(dir)).names, ["good"]);
  });
});

/** A logger that keeps error lines. */
function recordingLog(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { ...quietLog, errors, error: (message) => errors.push(message) };
}

/** An app serving `dir/files` with its result directory in `dir/results`. */
function startWithResultDir(dir: string, log: Logger, secret?: string): Promise<App> {
  return startApp(
    parseConfig({
      http: { host: "127.0.0.1", port: 0, workers: 1 },
      storages: [{ name: "files", type: "local", path: "files" }],
      caches: { resultDir: "results", ...(secret && { secret }) },
    }, dir),
    log,
  );
}

for (const secret of [undefined, "${IMPRESSIONIST_TEST_SECRET}"]) {
  Deno.test(`result dir${secret ? " (caches.secret from the environment)" : ""}: a result replaced by a validly sealed HTML page is recomputed, never served`, async () => {
    Deno.env.set("IMPRESSIONIST_TEST_SECRET", "0123456789abcdef0123");
    await withDir(async (dir) => {
      await Deno.mkdir(join(dir, "files"));
      await Deno.writeFile(join(dir, "files", "a.jpg"), await encode(photoLike(320, 240), "jpeg"));
      const path = "/impressionist/s,100x0/png/files/a.jpg";
      const get = async (app: App) => {
        const response = await fetch(`http://127.0.0.1:${app.addr.port}${path}`);
        return { response, body: new Uint8Array(await response.arrayBuffer()) };
      };
      const a = await startWithResultDir(dir, quietLog, secret);
      const made = await get(a);
      await a.stop();
      const key = made.response.headers.get("etag")!.slice(1, -1);
      const file = join(dir, "results", key);
      // Whoever can write the directory but does not hold the secret seals as without one.
      await Deno.writeFile(file, new Sealer().seal(key, html));

      const log = recordingLog();
      const b = await startWithResultDir(dir, log, secret);
      try {
        const served = await get(b);
        assert.equal(served.response.status, 200);
        assert.equal(served.response.headers.get("x-cache"), "miss");
        assert.equal(served.response.headers.get("content-type"), "image/png");
        assert.equal(served.response.headers.get("x-content-type-options"), "nosniff");
        assert.deepEqual(served.body, made.body);
        assert.equal((await decode(served.body)).width, 100);
        assert.equal(log.errors.length, 1, log.errors.join("\n"));
        assert.match(log.errors[0], new RegExp(`^result cache: refused the disk copy of ${key}`));
        // The page is gone: the file now holds the recomputed result.
        const again = await get(b);
        assert.equal(again.response.headers.get("x-cache"), "hit");
        assert.deepEqual(again.body, made.body);
        const stored = await Deno.readFile(file);
        assert.equal(stored.byteLength, SEAL_BYTES + made.body.byteLength);
        assert.equal(new TextDecoder().decode(stored).includes("<script>"), false);
      } finally {
        await b.stop();
      }
    });
  });
}

Deno.test("result dir: a directory that cannot be written any more serves every request, with a logged reason", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "files"));
    await Deno.writeFile(join(dir, "files", "a.jpg"), await encode(photoLike(160, 120), "jpeg"));
    const log = recordingLog();
    const app = await startWithResultDir(dir, log);
    const get = async (width: number) => {
      const url = `http://127.0.0.1:${app.addr.port}/impressionist/s,${width}x0/png/files/a.jpg`;
      const response = await fetch(url);
      const body = new Uint8Array(await response.arrayBuffer());
      return { status: response.status, cache: response.headers.get("x-cache"), body };
    };
    try {
      assert.equal((await get(10)).status, 200);
      // As a disk that fails every write (full, read-only): a file where the directory was.
      await Deno.remove(join(dir, "results"), { recursive: true });
      await Deno.writeFile(join(dir, "results"), new Uint8Array(1));
      for (const width of [20, 30, 10]) {
        const served = await get(width);
        assert.equal(served.status, 200);
        assert.equal(served.cache, width === 10 ? "hit" : "miss", `width ${width}`);
        assert.equal((await decode(served.body)).width, width);
      }
      assert.equal(log.errors.length, 1, log.errors.join("\n"));
      assert.match(
        log.errors[0],
        /^result cache: cannot write to ".*results", serving without it: /,
      );
    } finally {
      await app.stop();
    }
  });
});

Deno.test("result dir: a directory that cannot be made is a start-up ConfigError naming the key", async () => {
  await assert.rejects(
    startTestServer({ "a.png": new Uint8Array(8) }, {
      caches: { resultDir: "files/a.png/results" },
    }),
    {
      name: "ConfigError",
      message: /^"caches\.resultDir": cannot use ".*files\/a\.png\/results": /,
    },
  );
});

Deno.test("result dir: caches.secret is at least 16 characters", () => {
  const caches = (value: unknown) => parseConfig({ caches: { secret: value } }, "/").caches;
  assert.equal(parseConfig({}, "/").caches.secret, undefined);
  assert.equal(caches("x".repeat(16)).secret, "x".repeat(16));
  for (const bad of ["", "x".repeat(15), 16, null]) {
    assert.throws(() => caches(bad), { name: "ConfigError", message: /"caches\.secret"/ });
  }
});

Deno.test("result dir: caches.resultDirBytes is a byte count, 1 GiB by default", () => {
  const caches = (value: unknown) => parseConfig({ caches: { resultDirBytes: value } }, "/").caches;
  assert.equal(parseConfig({}, "/").caches.resultDirBytes, 2 ** 30);
  assert.equal(caches(0).resultDirBytes, 0);
  assert.equal(caches(2 ** 40).resultDirBytes, 2 ** 40);
  for (const bad of [-1, 1.5, "1GB", 2 ** 53]) {
    assert.throws(() => caches(bad), { name: "ConfigError", message: /"caches\.resultDirBytes"/ });
  }
});
