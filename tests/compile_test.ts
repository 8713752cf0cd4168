// `deno task compile` makes one binary of the server. A file the code reads at run time (a
// worker's module, the playground's files, ImageMagick's policy, what the build version hashes)
// is in the binary only if the task names it with `--include`: without it the binary fails, or
// worse, works wrongly (a build version that never changes would serve an old version's
// results). deno compile can't run on every machine (it downloads its runtime), so this reads
// the task and the code instead.
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { lockFile, processingCode } from "../lib/pool/build_version.ts";

const root = join(dirname(new URL(import.meta.url).pathname), "..");

/** The task's `--include` paths, from the project root, without a trailing slash. */
function compileIncludes(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(join(root, "deno.json")));
  const task: string = config.tasks.compile;
  return [...task.matchAll(/--include[= ](\S+)/g)].map((m) => m[1].replace(/\/$/, ""));
}

function included(path: string, includes: readonly string[]): boolean {
  return includes.some((include) => path === include || path.startsWith(`${include}/`));
}

/** Every `.ts` file of the server's code (not tests, benches or tools). */
function serverSources(): string[] {
  const files = ["main.ts", "client.ts"];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(join(root, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  for (const dir of ["lib", "filters", "storages"]) walk(dir);
  return files;
}

Deno.test("compile: the task includes every file that the code reads next to itself at run time", () => {
  const includes = compileIncludes();
  const missing: string[] = [];
  // `new URL("./x", import.meta.url)` and `new URL(`./dir/${name}`, import.meta.url)`.
  const fileUrl = /new URL\(\s*[`"']([^`"'$]*)(?:\$\{[^}]*\}[^`"']*)?[`"'],\s*import\.meta\.url\)/g;
  for (const file of serverSources()) {
    const text = Deno.readTextFileSync(join(root, file));
    for (const [, target] of text.matchAll(fileUrl)) {
      const path = relative(root, join(root, dirname(file), target));
      // The project root itself: build_version.ts reads below it, checked in the next test.
      if (path === "") continue;
      if (!included(path, includes)) missing.push(`${file}: ${target} (${path})`);
    }
  }
  assert.deepEqual(missing, [], `add --include for these to deno.json's compile task`);
});

Deno.test("compile: the task includes what the build version hashes, so results change with the code", () => {
  const includes = compileIncludes();
  const missing = [...processingCode, lockFile].filter((path) => !included(path, includes));
  assert.deepEqual(missing, [], `add --include for these to deno.json's compile task`);
  for (const path of [...processingCode, lockFile]) {
    assert.ok(Deno.statSync(join(root, path)), `${path} exists`);
  }
});
