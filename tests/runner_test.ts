// The test runner's promises: its closing line counts every file's tests and names each skipped
// file with the reason it printed, and a file that fails or crashes fails the run.
import assert from "node:assert/strict";
import { join } from "node:path";
import { closingLine, runSuite } from "./run.ts";

Deno.test("runner: the closing line names each skipped file and why; failures count", async () => {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-runner-" });
  try {
    const files = {
      "skips_test.ts": `console.log("skipped: /usr/sbin/nginx is not installed");
Deno.test({ name: "needs nginx", ignore: true, fn() {} });
Deno.test("runs", () => {});`,
      "passes_test.ts": `Deno.test("one", () => {}); Deno.test("two", () => {});`,
      "fails_test.ts": `Deno.test("bad", () => { throw new Error("no"); });`,
      "crashes_test.ts": `Deno.exit(3);`,
    };
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    // Their output stays out of this file's own: the outer runner reads that.
    const results = await runSuite(
      Object.keys(files).map((name) => join(dir, name)),
      () => Promise.resolve(),
    );
    const byName = (name: string) => results.find((r) => r.file.endsWith(name))!;
    assert.deepEqual(byName("skips_test.ts").skips, ["/usr/sbin/nginx is not installed"]);
    assert.equal(byName("fails_test.ts").failed, 1);
    assert.equal(byName("crashes_test.ts").ok, false, "a crash without a summary fails");
    assert.ok(byName("passes_test.ts").cpuSeconds > 0, "CPU seconds are measured");
    assert.equal(
      closingLine(results),
      "3 passed, 2 failed, 1 ignored; skipped: skips_test.ts (/usr/sbin/nginx is not installed)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runner: a file whose types are wrong fails the run, though files run unchecked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-runner-" });
  try {
    const file = join(dir, "types_test.ts");
    await Deno.writeTextFile(file, `const n: number = "one"; Deno.test("runs", () => {});`);
    const results = await runSuite([file], () => Promise.resolve());
    assert.equal(results.reduce((total, result) => total + result.failed, 0), 1);
    assert.ok(results.some((result) => !result.ok), "the run fails");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
