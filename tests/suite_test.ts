// `deno test -P`: the whole suite, as `deno task test` runs it (tests/run.ts: every test file in
// a process of its own). deno.json's `test.include` names only this file, and its
// `test.permissions` are what `-P` grants; Deno 2.9 reads them only with `-P`, by design. This
// file imports no package, so `deno test -P` leaves deno.lock as it is; the files themselves run
// under tests/deno.lock.
import assert from "node:assert/strict";
import { basename } from "node:path";
import { runSuite } from "./run.ts";

Deno.test("the suite: every test file passes in a process of its own", async () => {
  const results = await runSuite([]);
  const bad = results.filter((result) => !result.ok || result.failed > 0);
  assert.deepEqual(bad.map((result) => basename(result.file)), []);
});
