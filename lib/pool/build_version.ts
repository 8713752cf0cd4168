import { createHash } from "node:crypto";

/**
 * The folders (from the project root) whose code decides the pixels of a result. They and the
 * lock file are read at run time, so `deno task compile` must `--include` them.
 */
export const processingCode = [
  "lib/image",
  "lib/jobs",
  "lib/pure",
  "lib/magick",
  "lib/vips",
  "filters",
];
/** The lock file (from the project root): the libraries' versions. */
export const lockFile = "deno.lock";
const projectRoot = new URL("../../", import.meta.url);

async function* files(dir: URL): AsyncGenerator<URL> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* files(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}

/**
 * A version of the code that makes pixels: a hash of the processing modules' text and of
 * the lock file (library versions). It is part of every result's identity, so an upgrade
 * that can change pixels never serves results made by the old code.
 */
export async function buildVersion(): Promise<string> {
  const hash = createHash("sha256");
  for (const dir of processingCode) {
    const url = new URL(`${dir}/`, projectRoot);
    try {
      for await (const file of files(url)) {
        hash.update(file.href.slice(projectRoot.href.length)).update(await Deno.readFile(file));
      }
    } catch (error) {
      // A backend folder may be absent; anything else means the hash would not be complete.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  hash.update(await Deno.readFile(new URL(lockFile, projectRoot)).catch(() => new Uint8Array()));
  return hash.digest("base64url").slice(0, 12);
}
