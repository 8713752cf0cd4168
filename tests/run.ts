// `deno task test`: every test file in a process of its own, two at a time.
//
// Why not one `deno test --parallel`: that runs every file as a thread of one process, and the
// magick backends load native libraries whose state is process-wide (GraphicsMagick's monitor
// handler, ImageMagick's resource limits, sharp's libvips). A server runs one backend per
// process; the tests mix all of them, so they get one process per file, as servers do.
// Arguments are passed to each `deno test` (e.g. `--filter NAME`); files may be named.
import { join } from "node:path";

const testsDir = new URL(".", import.meta.url).pathname;
const denoArgs = ["test", "--allow-all", "--lock=" + join(testsDir, "deno.lock")];

const named = Deno.args.filter((arg) => arg.endsWith("_test.ts"));
const flags = Deno.args.filter((arg) => !arg.endsWith("_test.ts"));
const files = named.length ? named : [...Deno.readDirSync(testsDir)]
  .map((entry) => entry.name)
  .filter((name) => name.endsWith("_test.ts"))
  .sort()
  .map((name) => join(testsDir, name));

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  ok: boolean;
}

const summary = /(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \| (\d+) ignored)?/;

/** Runs one file's tests in a process of its own; prints its output when it ends. */
async function runFile(file: string): Promise<FileResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...denoArgs, ...flags, file],
    stdout: "piped",
    stderr: "piped",
    // Plain text, so the summary line can be read.
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  await Deno.stdout.write(new TextEncoder().encode(text));
  const counts = summary.exec(text);
  const passed = Number(counts?.[1] ?? 0);
  const failed = Number(counts?.[2] ?? 0);
  // A process that ended without its summary (a crash) counts as one failure.
  const ok = output.success && counts !== null;
  return { file, passed, failed: ok ? failed : Math.max(failed, 1), ok };
}

const results: FileResult[] = [];
const queue = [...files];
await Promise.all(Array.from({ length: 2 }, async () => {
  for (let file = queue.shift(); file; file = queue.shift()) results.push(await runFile(file));
}));

const bad = results.filter((result) => !result.ok || result.failed > 0);
for (const result of bad) console.log(`failed: ${result.file}`);
const passed = results.reduce((sum, result) => sum + result.passed, 0);
const failed = results.reduce((sum, result) => sum + result.failed, 0);
console.log(`\n${passed} passed, ${failed} failed`);
Deno.exit(bad.length ? 1 : 0);
