// Every config key the code reads is documented, and every key the docs name is read: an
// undocumented key can't be found, and a documented one that doesn't exist is refused at start
// ("Unknown config key"). The code's keys are recorded while a config that uses every section,
// list and storage type is read, so a key added to the code shows up here without a list to
// keep. The documented ones are the README's `section.key` names, its storage table and
// docs/filters.md's watermark table.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { parseConfig } from "../lib/config/config.ts";
import { createStorages } from "../storages/mod.ts";

const root = join(dirname(new URL(import.meta.url).pathname), "..");
const read = (page: string) => Deno.readTextFileSync(join(root, page));

/** `value` with every object wrapped so that each key read is added to `keys`, by its path. */
function recorded(value: unknown, path: string, keys: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((item) => recorded(item, `${path}[]`, keys));
  if (typeof value !== "object" || value === null) return value;
  // Storages are told apart by their type: `storages[local].path`.
  const at = path === "storages[]" ? `storages[${(value as { type: string }).type}]` : path;
  const name = (key: string) => at ? `${at}.${key}` : key;
  const wrapped = Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, recorded(item, name(key), keys)]),
  );
  return new Proxy(wrapped, {
    get(target, key, receiver) {
      if (typeof key === "string") keys.add(name(key));
      return Reflect.get(target, key, receiver);
    },
  });
}

/** Every key the code reads, from a config with one of each list entry and storage type. */
async function keysRead(): Promise<Set<string>> {
  const keys = new Set<string>();
  const config = {
    http: {},
    image: {},
    caches: {},
    log: {},
    security: { keys: [{ key: "00", salt: "00" }] },
    filters: [{ name: "small", definition: "s,100x0" }],
    watermarks: [{ name: "logo", storage: "files", path: "logo.png" }],
    storages: [
      { name: "files", type: "local", path: "examples" },
      { name: "web", type: "http", baseUrl: "https://origin.example.com/" },
      { name: "bucket", type: "s3", bucket: "results", accessKeyId: "a", secretAccessKey: "s" },
    ],
  };
  const parsed = parseConfig(recorded(config, "", keys), root);
  await createStorages(parsed.storages, root);
  return keys;
}

Deno.test("config docs: the README names every key of http, image, caches, security and log, and no other", async () => {
  const sections = ["http", "image", "caches", "security", "log"];
  const keys = [...await keysRead()];
  const code = keys.filter((key) => sections.includes(key.split(".")[0]))
    .filter((key) => key.includes(".") && !key.includes("[]"));
  // The top-level keys: each a row of the README's configuration table, or its section's rows.
  const readme = read("README.md");
  const top = keys.filter((key) => /^\w+$/.test(key));
  const absent = top.filter((key) =>
    !readme.includes(`| \`${key}\``) && !readme.includes(`| \`${key}.`)
  );
  assert.deepEqual(absent, [], "top-level keys without a row in the README's table");
  const docs = new Set(
    [...readme.matchAll(/`((?:http|image|caches|security|log)\.[A-Za-z]+)`/g)]
      .map((m) => m[1]),
  );
  // Every page's mention of such a key, so that none names a key that doesn't exist.
  const pages = ["README.md", "ARCHITECTURE.md", "deploy/README.md"];
  for (const entry of Deno.readDirSync(join(root, "docs"))) {
    if (entry.name.endsWith(".md")) pages.push(`docs/${entry.name}`);
  }
  const named = new Map<string, string>();
  for (const page of pages) {
    for (
      const [, key] of read(page).matchAll(/`((?:http|image|caches|security|log)\.[A-Za-z]+)`/g)
    ) {
      named.set(key, page);
    }
  }
  assert.deepEqual(code.filter((key) => !docs.has(key)), [], "read by the code, not in the README");
  const unknown = [...named].filter(([key]) => !code.includes(key)).map(([k, p]) => `${p}: ${k}`);
  assert.deepEqual(unknown, [], "named by the docs, not read by the code");
});

Deno.test("config docs: the README's storage table lists exactly the keys each storage type reads", async () => {
  const code = [...await keysRead()].filter((key) => key.startsWith("storages["));
  const readme = read("README.md");
  const table = readme.slice(readme.indexOf("### Storages"), readme.indexOf("## Caching"));
  const documented = new Set<string>();
  // "Every storage has a `name` … and a `type`", said once above the table.
  for (const key of ["name", "type"]) {
    if (table.includes(`\`${key}\``)) {
      for (const t of ["local", "http", "s3"]) documented.add(`storages[${t}].${key}`);
    }
  }
  for (const [, type, keys] of table.matchAll(/^\| (any|`\w+`) +\| ([^|]+)\|/gm)) {
    for (const [, key] of keys.matchAll(/`(\w+)`/g)) {
      const types = type === "any" ? ["local", "http", "s3"] : [type.replaceAll("`", "")];
      for (const t of types) documented.add(`storages[${t}].${key}`);
    }
  }
  assert.deepEqual(code.filter((key) => !documented.has(key)).sort(), [], "not in the table");
  assert.deepEqual([...documented].filter((key) => !code.includes(key)).sort(), [], "not read");
});

Deno.test("config docs: watermarks, presets and signing keys: their entries' keys are documented", async () => {
  const keys = [...await keysRead()];
  const entries = (list: string) =>
    keys.filter((key) => key.startsWith(`${list}[].`)).map((key) => key.slice(list.length + 3));
  const filters = read("docs/filters.md");
  const table = filters.slice(filters.indexOf("## Watermark"));
  const documented = [...table.matchAll(/^\| `(\w+)` +\|/gm)].map((m) => m[1]);
  assert.deepEqual(entries("watermarks").sort(), documented.sort(), "docs/filters.md's table");
  const readme = read("README.md");
  for (const key of [...entries("filters"), ...entries("security.keys")]) {
    assert.match(readme, new RegExp(`"${key}":`), `the README's example shows "${key}"`);
  }
});
