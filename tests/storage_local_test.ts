import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigReader } from "../lib/config/reader.ts";
import { NotFound, TooLarge } from "../lib/errors.ts";
import { createLocalStorage } from "../storages/local.ts";
import type { Source, Storage } from "../storages/storage.ts";

async function withLocal(run: (storage: Storage, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-local-" });
  try {
    await Deno.mkdir(join(dir, "root"));
    const reader = ConfigReader.of({ path: join(dir, "root") }, "storages[0]");
    await run(await createLocalStorage({ name: "files", type: "local", reader }, dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
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
  });
});

Deno.test("local storage reads a source straight into shared memory when asked, and refuses symlinks out", async () => {
  await withLocal(async (storage, dir) => {
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
