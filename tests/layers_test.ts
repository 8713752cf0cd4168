// The layers of ARCHITECTURE.md, enforced: a module may import only from its own layer and the
// layers this table lets it use. A new folder must be added here, so it is placed on purpose.
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = normalize(join(dirname(fileURLToPath(import.meta.url)), ".."));

/** Each layer and the layers below it that it may import. */
const mayImport: Record<string, string[]> = {
  "lib/base": [],
  "lib/image": ["lib/base"],
  "filters": ["lib/image", "lib/base"],
  "lib/pure": ["lib/image", "lib/base"],
  "lib/magick": ["lib/image", "lib/base"],
  "lib/vips": ["lib/image", "lib/base"],
  "lib/jobs": ["filters", "lib/image", "lib/base"],
  "lib/config": ["lib/jobs", "filters", "lib/image", "lib/base"],
  "storages": ["lib/config", "lib/base"],
  "lib/cache": ["storages", "lib/config", "lib/jobs", "lib/image", "lib/base"],
  "lib/pool": [
    "lib/pure",
    "lib/magick",
    "lib/vips",
    "lib/jobs",
    "lib/config",
    "lib/image",
    "lib/base",
  ],
  "lib/flow": [
    "lib/cache",
    "lib/pool",
    "storages",
    "lib/config",
    "lib/jobs",
    "filters",
    "lib/image",
    "lib/base",
  ],
  "lib/http": [
    "client",
    "lib/flow",
    "lib/cache",
    "lib/pool",
    "storages",
    "lib/config",
    "lib/jobs",
    "filters",
    "lib/image",
    "lib/base",
  ],
  "lib/app": [
    "lib/http",
    "lib/flow",
    "lib/cache",
    "lib/pool",
    "storages",
    "lib/config",
    "lib/base",
  ],
  // lib/pool: the compiled server's `job-process` command (lib/pool/job_process.ts).
  "main": ["lib/app", "lib/pool", "lib/config", "lib/jobs", "lib/base"],
  "client": [],
};

/** The layer of a project file: its folder, with a few top-level files named on their own. */
function layerOf(file: string): string | undefined {
  if (file === "main.ts") return "main";
  if (file === "client.ts") return "client";
  if (file === "lib/app.ts") return "lib/app";
  if (file === "lib/errors.ts" || file === "lib/log.ts") return "lib/base";
  const parts = file.split("/");
  if (parts[0] === "lib" && parts.length > 2) return `lib/${parts[1]}`;
  if (parts[0] === "filters" || parts[0] === "storages") return parts[0];
  return undefined;
}

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(join(root, dir))) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory && dir) yield* sources(path);
    else if (entry.isFile && path.endsWith(".ts")) yield path;
  }
}

async function projectFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const file of sources("")) files.push(file);
  for (const dir of ["lib", "filters", "storages"]) {
    for await (const file of sources(dir)) files.push(file);
  }
  return files;
}

const importPattern = /(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*["'](\.[^"']+)["']/g;
const dynamicPattern = /\bimport\(\s*["'](\.[^"']+)["']\s*\)|new URL\(\s*["'](\.[^"']+\.ts)["']/g;

Deno.test("every module imports only from its own layer or the layers below it", async () => {
  const violations: string[] = [];
  const files = await projectFiles();
  for (const file of files) {
    const layer = layerOf(file);
    if (!layer) continue;
    assert.ok(layer in mayImport, `${file} is in the unknown layer "${layer}"`);
    const text = await Deno.readTextFile(join(root, file));
    const targets = [
      ...[...text.matchAll(importPattern)].map((m) => m[1]),
      ...[...text.matchAll(dynamicPattern)].map((m) => m[1] ?? m[2]),
    ];
    for (const target of targets) {
      const resolved = relative(root, normalize(join(root, dirname(file), target)));
      const targetLayer = layerOf(resolved);
      if (!targetLayer || targetLayer === layer) continue;
      if (!mayImport[layer].includes(targetLayer)) {
        violations.push(`${file} (${layer}) imports ${resolved} (${targetLayer})`);
      }
    }
  }
  assert.deepEqual(violations, []);
  assert.ok(files.length > 40, "the walk found the project's modules");
});

Deno.test("the layer check notices an upward import", () => {
  assert.equal(layerOf("lib/image/probe.ts"), "lib/image");
  assert.equal(mayImport[layerOf("lib/image/probe.ts")!].includes("lib/http"), false);
  const sample = `import { x } from "../http/server.ts";\nexport { y } from "./z.ts";`;
  assert.deepEqual([...sample.matchAll(importPattern)].map((m) => m[1]), [
    "../http/server.ts",
    "./z.ts",
  ]);
});

Deno.test("lib/ keeps only a handful of files at its top level, and every folder says its job", async () => {
  const top: string[] = [];
  for await (const entry of Deno.readDir(join(root, "lib"))) {
    if (entry.isFile) top.push(entry.name);
    if (!entry.isDirectory) continue;
    const names: string[] = [];
    for await (const inner of Deno.readDir(join(root, "lib", entry.name))) names.push(inner.name);
    const first = names.includes("mod.ts")
      ? "mod.ts"
      : names.includes("README.md")
      ? "README.md"
      : "";
    assert.ok(first, `lib/${entry.name}/ has a README.md saying what it is for`);
  }
  assert.ok(top.length <= 5, `lib/ has ${top.length} files at its top: ${top.join(", ")}`);
});

Deno.test("ARCHITECTURE.md has a row for every layer, and every file and folder it names exists", async () => {
  const text = await Deno.readTextFile(join(root, "ARCHITECTURE.md"));
  const rows = text.split("\n").filter((line) =>
    line.startsWith("| `") || line.startsWith("| base")
  );
  const token = (layer: string) =>
    layer === "lib/base"
      ? "`lib/errors.ts`"
      : ["main", "client", "lib/app"].includes(layer)
      ? `\`${layer}.ts\``
      : `\`${layer}/\``;
  const missing = Object.keys(mayImport).filter((layer) =>
    !rows.some((row) => row.split("|")[1].includes(token(layer)))
  );
  assert.deepEqual(missing, [], "layers of tests/layers_test.ts without a row in ARCHITECTURE.md");
  // Paths from the root (`lib/pool/pool.ts`, `lib/cache/`) and names alone (`request_id.ts`,
  // `playground/`: in the folder the text is about); NAME and TYPE stand for a new one.
  const names = new Set<string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(join(root, dir))) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      names.add(entry.isDirectory ? `${entry.name}/` : entry.name);
      if (entry.isDirectory) await walk(join(dir, entry.name));
    }
  };
  await walk("");
  const absent: string[] = [];
  for (const [, path] of text.matchAll(/`([\w./*-]+(?:\.ts|\.md|\/))`/g)) {
    if (/NAME|TYPE|\*/.test(path)) continue;
    const exists = /^[\w.-]+\/?$/.test(path)
      ? names.has(path)
      : await Deno.stat(join(root, path)).then(() => true, () => false);
    if (!exists) absent.push(path);
  }
  assert.deepEqual(absent, [], "named in ARCHITECTURE.md, not in the tree");
});
