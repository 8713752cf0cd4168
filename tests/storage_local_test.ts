import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigReader } from "../lib/config/reader.ts";
import { NotFound, TooLarge } from "../lib/errors.ts";
import { createLocalStorage } from "../storages/local.ts";
import type { Source, Storage } from "../storages/storage.ts";

/** Runs `run` on a fresh storage in each `io` mode given (both by default). */
async function withLocal(
  run: (storage: Storage, dir: string) => Promise<void>,
  modes: ("sync" | "threads")[] = ["threads", "sync"],
): Promise<void> {
  for (const io of modes) {
    const dir = await Deno.makeTempDir({ prefix: "impressionist-local-" });
    try {
      await Deno.mkdir(join(dir, "root"));
      const reader = ConfigReader.of({ path: join(dir, "root"), io }, "storages[0]");
      await run(await createLocalStorage({ name: "files", type: "local", reader }, dir), dir);
    } catch (error) {
      throw new Error(`io "${io}": ${(error as Error).message}`, { cause: error });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
}

const options = { maxBytes: 1024 };

Deno.test("local storage revalidates by size and mtime: a changed file is read again", async () => {
  await withLocal(async (storage, dir) => {
    const file = join(dir, "root", "a.png");
    await Deno.writeFile(file, new Uint8Array([1, 2, 3]));
    const first = await storage.get("a.png", options) as Source;
    assert.deepEqual(first.bytes, new Uint8Array([1, 2, 3]));
    assert.equal(
      await storage.get("a.png", { ...options, validator: first.validator }),
      "not-modified",
    );
    await Deno.writeFile(file, new Uint8Array([4, 5, 6, 7]));
    const changed = await storage.get("a.png", {
      ...options,
      validator: first.validator,
    }) as Source;
    assert.deepEqual(changed.bytes, new Uint8Array([4, 5, 6, 7]));
    await Deno.remove(file);
    await assert.rejects(
      storage.get("a.png", { ...options, validator: changed.validator }),
      NotFound,
    );
  });
});

Deno.test("local storage refuses symlinks out of its root and files over the cap", async () => {
  await withLocal(async (storage, dir) => {
    await Deno.writeFile(join(dir, "secret.png"), new Uint8Array([1]));
    await Deno.symlink(join(dir, "secret.png"), join(dir, "root", "link.png"));
    await assert.rejects(storage.get("link.png", options), NotFound);
    await Deno.writeFile(join(dir, "root", "big.png"), new Uint8Array(1025));
    await assert.rejects(storage.get("big.png", options), TooLarge);
    await assert.rejects(storage.get("missing.png", options), NotFound);
  });
});

// The default, `threads`; `sync` runs its calls on the HTTP thread by design (for local disks).
Deno.test("local storage: a slow stat does not hold up the event loop", async () => {
  await withLocal(async (storage, dir) => {
    await Deno.writeFile(join(dir, "root", "a.png"), new Uint8Array([1, 2, 3]));
    const first = await storage.get("a.png", options) as Source;
    // A disk that takes a second to answer a stat, whichever API asks.
    const { stat, statSync } = Deno;
    const slowMs = 1000;
    Deno.stat = async (path) => {
      await new Promise((resolve) => setTimeout(resolve, slowMs));
      return stat(path);
    };
    Deno.statSync = (path) => {
      const until = performance.now() + slowMs;
      while (performance.now() < until) { /* the disk is busy */ }
      return statSync(path);
    };
    try {
      // Meanwhile a timer keeps ticking every 10 ms: the longest gap shows a blocked loop.
      let last = performance.now();
      let longestGap = 0;
      const ticker = setInterval(() => {
        longestGap = Math.max(longestGap, performance.now() - last);
        last = performance.now();
      }, 10);
      const result = await storage.get("a.png", { ...options, validator: first.validator });
      clearInterval(ticker);
      longestGap = Math.max(longestGap, performance.now() - last);
      assert.equal(result, "not-modified");
      assert.ok(longestGap < slowMs / 2, `the event loop stalled for ${longestGap} ms`);
    } finally {
      Object.assign(Deno, { stat, statSync });
    }
  }, ["threads"]);
});

Deno.test("local storage reads a source straight into shared memory when asked, and refuses symlinks out", async () => {
  await withLocal(async (storage, dir) => {
    // Past 4 MiB even the sync mode reads on a thread; both paths must give the same bytes.
    for (const size of [0, 1, 1000, 4 * 2 ** 20, 4 * 2 ** 20 + 1]) {
      const bytes = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
      const file = new Uint8Array(size);
      for (let at = 0; at < size; at += bytes.length) file.set(bytes.subarray(0, size - at), at);
      await Deno.writeFile(join(dir, "root", "big.bin"), file);
      const big = await storage.get("big.bin", { maxBytes: 2 ** 23, shared: true }) as Source;
      assert.ok(big.bytes.buffer instanceof SharedArrayBuffer);
      assert.equal(big.bytes.length, size);
      assert.ok(big.bytes.every((value, i) => value === file[i]), `${size} bytes differ`);
    }
    const bytes = crypto.getRandomValues(new Uint8Array(1000));
    await Deno.writeFile(join(dir, "root", "a.jpg"), bytes);
    const shared = await storage.get("a.jpg", { ...options, shared: true }) as Source;
    // The pool's workers read sources from shared memory: no copy is needed on the way.
    assert.ok(shared.bytes.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(new Uint8Array(shared.bytes), bytes);
    // The result store reads plain bytes, which a response can send.
    const plain = await storage.get("a.jpg", options) as Source;
    assert.ok(plain.bytes.buffer instanceof ArrayBuffer);
    assert.deepEqual(plain.bytes, bytes);
    await Deno.writeFile(join(dir, "outside.jpg"), bytes);
    await Deno.symlink(join(dir, "outside.jpg"), join(dir, "root", "out.jpg"));
    await assert.rejects(storage.get("out.jpg", { ...options, shared: true }), NotFound);
  });
});

Deno.test("local storage: io is sync or threads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-local-" });
  try {
    const reader = ConfigReader.of({ path: dir, io: "async" }, "storages[0]");
    await assert.rejects(
      createLocalStorage({ name: "files", type: "local", reader }, dir),
      /io/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
