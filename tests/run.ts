// The test suite: one type check of every test file, then each file in a process of its own,
// three at a time. `deno task test` runs this script; `deno test -P` runs it through
// tests/suite_test.ts, so both run the same tests.
//
// Why not one `deno test --parallel`: that runs every file as a thread of one process, and the
// magick backends load native libraries whose state is process-wide (GraphicsMagick's monitor
// handler, ImageMagick's resource limits, sharp's libvips). A server runs one backend per
// process; the tests mix all of them, so they get one process per file, as servers do.
// Arguments are passed to each `deno test` (e.g. `--filter NAME`); files may be named.
import { basename, join } from "node:path";

const testsDir = new URL(".", import.meta.url).pathname;
// The tests' own lock file: deno.lock holds only what serving needs, so a fresh start fetches
// nothing more (the tests' s3rver and playwright-core doubled a cold start's time and downloads).
const lock = join(testsDir, "deno.lock");

/**
 * Files run at once. Many tests wait (a CPU window after a 503, a deadline, a server's start)
 * rather than compute, so three on two cores finish the suite in 3.7 min where two took 6.0
 * (measured on the quiet 2-core machine), with every timing assertion still passing.
 */
const LANES = 3;

/** What one test file's process reported. */
export interface FileResult {
  file: string;
  passed: number;
  failed: number;
  ignored: number;
  /** Why tests were skipped, from the `skipped: …` lines the helpers print. */
  skips: string[];
  seconds: number;
  /** CPU seconds (user + system) of the file's process and every process it waited for. */
  cpuSeconds: number;
  ok: boolean;
}

const summary = /(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \| (\d+) ignored)?/g;
const skipLine = /^skipped: (.+)$/gm;

/**
 * The files that take longest (2-4 minutes of wall time between them, most of it waiting on a
 * server's CPU window or deadline): they start first, so that none is left running alone at the
 * end while the other lanes have finished.
 */
const LONGEST = ["hostile_test.ts", "cancel_test.ts", "planning_test.ts"];

/**
 * Every `*_test.ts` in tests/ but the suite itself, the longest first, or the files named in
 * `args`.
 */
export function testFiles(args: readonly string[]): string[] {
  const named = args.filter((arg) => arg.endsWith("_test.ts"));
  if (named.length) return named;
  const rank = (name: string) => LONGEST.includes(name) ? LONGEST.indexOf(name) : LONGEST.length;
  return [...Deno.readDirSync(testsDir)]
    .map((entry) => entry.name)
    .filter((name) => name.endsWith("_test.ts") && name !== "suite_test.ts")
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((name) => join(testsDir, name));
}

// bash's `times` prints the CPU its children used (user, then system, on the second line), the
// servers the tests start included: the figure that says what a file costs on a quiet machine.
const withTimes = '"$0" "$@"; code=$?; times >&2; exit $code';
const timesLine = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/gm;

/** Where a file's output goes when it ends: stdout, or nowhere for a suite run inside a test. */
export type Output = (text: string) => Promise<unknown>;
const toStdout: Output = (text) => Deno.stdout.write(new TextEncoder().encode(text));

/**
 * Type-checks the files in one `deno check`, before any runs; they then run with `--no-check`.
 * `deno test` would check each file's graph again in its own process: on a cold cache, as on
 * every CI run, that cost 4-8 CPU seconds a file, 2.7-3.2 CPU minutes for the suite (about 1.3
 * minutes of its wall time on 2 cores), where one check of every file takes ~5 seconds. Answers
 * a failed result when the types are wrong, so that the run fails as `deno test` would.
 */
async function checkTypes(files: readonly string[], output: Output): Promise<FileResult[]> {
  const started = performance.now();
  const checked = await new Deno.Command(Deno.execPath(), {
    args: ["check", `--lock=${lock}`, ...files],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (checked.success) return [];
  await output(new TextDecoder().decode(checked.stderr));
  return [{
    file: "type check",
    passed: 0,
    failed: 1,
    ignored: 0,
    skips: [],
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: 0,
    ok: false,
  }];
}

/** Runs one file's tests in a process of its own; hands its output on when it ends. */
async function runFile(
  file: string,
  flags: readonly string[],
  output: Output,
): Promise<FileResult> {
  const started = performance.now();
  const ran = await new Deno.Command("bash", {
    args: [
      "-c",
      withTimes,
      Deno.execPath(),
      "test",
      "--allow-all",
      `--lock=${lock}`,
      ...flags,
      file,
    ],
    stdout: "piped",
    stderr: "piped",
    // Plain text, so the summary line can be read.
    env: { NO_COLOR: "1" },
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(ran.stderr);
  const children = [...stderr.matchAll(timesLine)].at(-1);
  const text = new TextDecoder().decode(ran.stdout) +
    (children ? stderr.slice(0, stderr.lastIndexOf("\n", children.index - 2) + 1) : stderr);
  await output(text);
  const cpuSeconds = children
    ? Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 +
      Number(children[4])
    : 0;
  // The file's own summary is its last (a test may print others, as the runner's own test does).
  const counts = [...text.matchAll(summary)].at(-1);
  const failed = Number(counts?.[2] ?? 0);
  // A process that ended without its summary (a crash) counts as one failure.
  const ok = ran.success && counts !== undefined;
  return {
    file,
    passed: Number(counts?.[1] ?? 0),
    failed: ok ? failed : Math.max(failed, 1),
    ignored: Number(counts?.[3] ?? 0),
    skips: [...new Set([...text.matchAll(skipLine)].map((match) => match[1]))],
    seconds,
    cpuSeconds,
    ok,
  };
}

/** Runs the files `LANES` at a time and prints per-file times and the closing line. */
export async function runSuite(
  args: readonly string[],
  output: Output = toStdout,
): Promise<FileResult[]> {
  const flags = args.filter((arg) => !arg.endsWith("_test.ts"));
  const queue = testFiles(args);
  const started = performance.now();
  const results: FileResult[] = [];
  if (!flags.includes("--no-check")) {
    results.push(...await checkTypes(queue, output));
    flags.push("--no-check");
  }
  await Promise.all(Array.from({ length: LANES }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      results.push(await runFile(file, flags, output));
    }
  }));
  const minutes = (performance.now() - started) / 60_000;
  const lines = [
    "",
    `per file, slowest first: wall seconds (${LANES} files at a time), CPU seconds`,
  ];
  for (const result of [...results].sort((a, b) => b.seconds - a.seconds)) {
    const wall = result.seconds.toFixed(1).padStart(6);
    lines.push(`  ${wall} ${result.cpuSeconds.toFixed(1).padStart(6)}  ${basename(result.file)}`);
  }
  const cpu = results.reduce((total, result) => total + result.cpuSeconds, 0);
  lines.push(`CPU in all: ${(cpu / 60).toFixed(1)} min`);
  for (const result of results.filter((r) => !r.ok || r.failed > 0)) {
    lines.push(`failed: ${result.file}`);
  }
  lines.push("", `${closingLine(results)} in ${minutes.toFixed(1)} min`, "");
  await output(lines.join("\n"));
  return results;
}

/** `N passed, M failed, K ignored; skipped: a_test.ts (why), …` */
export function closingLine(results: readonly FileResult[]): string {
  const sum = (key: "passed" | "failed" | "ignored") =>
    results.reduce((total, result) => total + result[key], 0);
  const skipped = results
    .filter((result) => result.skips.length > 0 || result.ignored > 0)
    .map((result) => {
      const why = result.skips.length ? result.skips.join("; ") : "ignored without a reason";
      return `${basename(result.file)} (${why})`;
    });
  const counts = `${sum("passed")} passed, ${sum("failed")} failed, ${sum("ignored")} ignored`;
  return skipped.length ? `${counts}; skipped: ${skipped.join(", ")}` : `${counts}; none skipped`;
}

if (import.meta.main) {
  const results = await runSuite(Deno.args);
  Deno.exit(results.every((result) => result.ok && result.failed === 0) ? 0 : 1);
}
