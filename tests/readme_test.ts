// The README stays a front page: at most 30,000 bytes, short lines, and every link to a file or a
// heading of the docs leads somewhere. Long explanations belong in docs/, one topic a page.
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";

const root = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));
const pages = ["README.md", "deploy/README.md", "examples/README.md", "ARCHITECTURE.md"];
for (const entry of Deno.readDirSync(join(root, "docs"))) {
  if (entry.name.endsWith(".md")) pages.push(`docs/${entry.name}`);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, "").replace(/ /g, "-");
}

function anchorsOf(text: string): Set<string> {
  return new Set([...text.matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1])));
}

Deno.test("readme: the front page is at most 30,000 bytes, its lines at most 160 characters", () => {
  const bytes = Deno.readFileSync(join(root, "README.md"));
  assert.ok(bytes.length <= 30_000, `README.md has ${bytes.length} bytes: move detail to docs/`);
  const long = new TextDecoder().decode(bytes).split("\n").filter((line) => line.length > 160);
  assert.deepEqual(long, [], "shorten these lines (a table cell that long belongs in docs/)");
});

Deno.test("readme: every relative link of the README and docs/ leads to a file and heading", () => {
  const broken: string[] = [];
  for (const page of pages) {
    const text = Deno.readTextFileSync(join(root, page));
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split("#");
      const file = path ? normalize(join(root, dirname(page), path)) : join(root, page);
      let found: string;
      try {
        found = Deno.statSync(file).isFile && file.endsWith(".md")
          ? Deno.readTextFileSync(file)
          : "";
      } catch {
        broken.push(`${page}: ${target}`);
        continue;
      }
      if (anchor && !anchorsOf(found).has(anchor)) broken.push(`${page}: ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("readme: the contents list every section of the README, and every docs/ page is linked", () => {
  const readme = Deno.readTextFileSync(join(root, "README.md"));
  const start = readme.indexOf("## Contents");
  const contents = readme.slice(start, readme.indexOf("\n## ", start));
  const listed = [...contents.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
  const sections = [...readme.matchAll(/^#{2,3} (.+)$/gm)]
    .map((m) => anchorOf(m[1]))
    .filter((anchor) => anchor !== "contents");
  assert.deepEqual(listed, sections, "the contents list the ## and ### headings, in order");
  const linked = new Set([...readme.matchAll(/\]\((docs\/[^)#]+\.md)/g)].map((m) => m[1]));
  const unlinked = pages.filter((page) => page.startsWith("docs/") && !linked.has(page));
  assert.deepEqual(unlinked, [], "every docs/ page is reachable from the README");
});
