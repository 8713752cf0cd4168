// ARCHITECTURE.md's filter recipe, enforced: every registered filter has its row in the
// README's filter table, a client helper (checked with its token in tests/client_test.ts, whose
// helper table must name every filter) and a parity row in tests/backends_test.ts.
import assert from "node:assert/strict";
import { filters } from "../filters/mod.ts";

const read = (path: string) => Deno.readTextFile(new URL(path, import.meta.url));

/** The filter names of the README's filter table: each row's first token, up to `,` or "`". */
async function readmeFilters(): Promise<Set<string>> {
  const readme = await read("../README.md");
  const table = readme.slice(readme.indexOf("| filter "));
  const rows = table.slice(0, table.indexOf("\n\n")).split("\n").slice(2);
  return new Set(rows.map((row) => /^\| `([a-z]+)[,`]/.exec(row)?.[1] ?? row));
}

Deno.test("recipe: every registered filter has a row in the README's filter table", async () => {
  const rows = await readmeFilters();
  const missing = [...filters.keys()].filter((name) => !rows.has(name));
  assert.deepEqual(missing, [], "add a row to README.md's filter table");
  const unknown = [...rows].filter((name) => name !== "none" && !filters.has(name));
  assert.deepEqual(unknown, [], "the README's filter table names no filter the server lacks");
});

Deno.test("recipe: every registered filter has a client helper and a parity row", async () => {
  const client = await read("../client.ts");
  const clientTest = await read("./client_test.ts");
  const parity = await read("./backends_test.ts");
  for (const name of filters.keys()) {
    // A helper writes the token: `${name}` alone or followed by its argument.
    const writes = new RegExp(`return [\`"]${name}[,\`"]`);
    assert.match(client, writes, `client.ts has a helper writing "${name}"`);
    assert.match(clientTest, new RegExp(`"${name}[,"]`), `client_test.ts has a row for ${name}`);
    assert.match(parity, new RegExp(`[\`,]${name}[,/]`), `backends_test.ts has a row for ${name}`);
  }
});
