import assert from "node:assert/strict";
import { join } from "node:path";
import { ResultDirectory } from "../lib/cache/result_dir.ts";
import { SEAL_BYTES } from "../lib/cache/sealed.ts";
import { parseConfig } from "../lib/config/config.ts";
import { startTestServer } from "./helpers.ts";

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

/** File names in `dir` and the bytes they take. */
async function listing(dir: string): Promise<{ names: string[]; bytes: number }> {
  const names: string[] = [];
  let bytes = 0;
  for await (const entry of Deno.readDir(dir)) {
    names.push(entry.name);
    bytes += (await Deno.stat(join(dir, entry.name))).size;
  }
  return { names: names.sort(), bytes };
}

Deno.test("result dir: the byte bound evicts the least recently used file, reads count as use", async () => {
  await withDir(async (dir) => {
    const file = SEAL_BYTES + 1000;
    const results = await ResultDirectory.open(dir, 3 * file);
    await results.write("a", result(1000, 1));
    await results.write("b", result(1000, 2));
    await results.write("c", result(1000, 3));
    assert.deepEqual(await results.read("a"), result(1000, 1));
    await results.write("d", result(1000, 4));
    assert.deepEqual((await listing(dir)).names, ["a", "c", "d"]);
    assert.equal(await results.read("b"), undefined);
    assert.deepEqual(await results.read("d"), result(1000, 4));
    // One byte over the bound pushes out the next oldest, c.
    await results.write("e", result(1, 5));
    assert.deepEqual((await listing(dir)).names, ["a", "d", "e"]);
    const { bytes } = await listing(dir);
    assert.ok(bytes <= 3 * file, `${bytes} bytes on disk`);
    assert.deepEqual(results.stats(), { files: 3, bytes });
  });
});

Deno.test("result dir: a file exactly at the bound is kept, one byte more is not written", async () => {
  await withDir(async (dir) => {
    const results = await ResultDirectory.open(dir, SEAL_BYTES + 100);
    await results.write("fits", result(100, 7));
    assert.deepEqual(await results.read("fits"), result(100, 7));
    await results.write("over", result(101, 7));
    assert.deepEqual((await listing(dir)).names, ["fits"]);
    assert.equal(await results.read("over"), undefined);
  });
  await withDir(async (dir) => {
    const results = await ResultDirectory.open(dir, 0);
    await results.write("any", result(0, 0));
    assert.deepEqual((await listing(dir)).names, []);
  });
});

Deno.test("result dir: a start removes temporary files and evicts the least recently used beyond the bound", async () => {
  await withDir(async (dir) => {
    const file = SEAL_BYTES + 500;
    const before = await ResultDirectory.open(dir, 10 * file);
    for (const [i, key] of ["old", "middle", "new"].entries()) {
      await before.write(key, result(500, i));
      // Times a day apart, as if used long ago, in this order.
      const used = new Date(Date.UTC(2026, 0, 1 + i));
      await Deno.utime(join(dir, key), used, used);
    }
    await Deno.writeFile(join(dir, "new.5f0c.tmp"), result(10, 0));
    await Deno.writeFile(join(dir, "half-written.tmp"), result(10, 0));

    const after = await ResultDirectory.open(dir, 2 * file);
    assert.deepEqual((await listing(dir)).names, ["middle", "new"]);
    assert.deepEqual(after.stats(), { files: 2, bytes: 2 * file });
    assert.deepEqual(await after.read("middle"), result(500, 1));
    // Reading "middle" made "new" the least recently used, on disk too.
    const again = await ResultDirectory.open(dir, file);
    assert.deepEqual((await listing(dir)).names, ["middle"]);
    assert.equal(again.stats().files, 1);
  });
});

Deno.test("result dir: a damaged or truncated file is never served and is removed", async () => {
  await withDir(async (dir) => {
    const results = await ResultDirectory.open(dir, 1 << 20);
    await results.write("flipped", result(300, 9));
    await results.write("short", result(300, 9));
    const flipped = await Deno.readFile(join(dir, "flipped"));
    flipped[SEAL_BYTES + 10] ^= 1;
    await Deno.writeFile(join(dir, "flipped"), flipped);
    await Deno.truncate(join(dir, "short"), SEAL_BYTES + 299);
    assert.equal(await results.read("flipped"), undefined);
    assert.equal(await results.read("short"), undefined);
    assert.deepEqual((await listing(dir)).names, []);
    assert.deepEqual(results.stats(), { files: 0, bytes: 0 });
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

Deno.test("result dir: caches.resultDirBytes is a byte count, 1 GiB by default", () => {
  const caches = (value: unknown) => parseConfig({ caches: { resultDirBytes: value } }, "/").caches;
  assert.equal(parseConfig({}, "/").caches.resultDirBytes, 2 ** 30);
  assert.equal(caches(0).resultDirBytes, 0);
  assert.equal(caches(2 ** 40).resultDirBytes, 2 ** 40);
  for (const bad of [-1, 1.5, "1GB", 2 ** 53]) {
    assert.throws(() => caches(bad), { name: "ConfigError", message: /"caches\.resultDirBytes"/ });
  }
});
