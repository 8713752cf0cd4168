// Result-cache hits at 16 clients against a minimal Deno.serve answering the same bytes: both
// servers in processes of their own, impressionist with its access log on as in production
// (written to /dev/null). Two kinds of hit: on a `local` storage by default (`revalidate` 0s:
// one `stat` a hit), and on one whose validator is fresh (`revalidate` 1h, as `http` and `s3`
// have 60s by default: no storage call); and the first with `io: "sync"` (the `stat` on the HTTP
// thread). Run alone with `deno run -A bench/cache_hits.ts
// [--quick]`.
import { join } from "node:path";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { photoLike } from "../tests/helpers.ts";
import { loadRun } from "./load.ts";
import { cpuMsOf } from "./process.ts";

const main = new URL("../main.ts", import.meta.url).pathname;
const ceilingScript = new URL("./ceiling.ts", import.meta.url).pathname;

/** A load run, with the CPU time the serving process spent per request. */
async function measured(url: string, pid: number, requests: number) {
  const before = cpuMsOf(pid);
  const result = await loadRun(url, 16, requests);
  const cpuPerRequest = (cpuMsOf(pid) - before) * 1000 / requests;
  return { ...result, serverCpuUs: cpuPerRequest };
}

/** Starts a child process and answers it once it prints a line matching `ready`. */
async function startChild(args: string[], ready: RegExp) {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "null" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!ready.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${args.join(" ")} ended before it was ready: ${seen}`);
    seen += value;
  }
  // Keep draining stdout (the access log) so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done);
  })();
  return { child, match: ready.exec(seen)! };
}

/** Runs the comparison and answers both results. */
export async function benchCacheHits(quick: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-bench-" });
  const photo = await encodeBitmap(photoLike(1600, 1200), { type: "jpeg", quality: 85 });
  await Deno.mkdir(join(dir, "files"));
  await Deno.writeFile(join(dir, "files", "photo.jpg"), photo);
  const config = {
    http: { host: "127.0.0.1", port: 0, workers: 2 },
    storages: [
      { name: "files", type: "local", path: "files" },
      { name: "fresh", type: "local", path: "files", revalidate: "1h" },
      { name: "sync", type: "local", path: "files", io: "sync" },
    ],
  };
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
  const server = await startChild(
    ["run", "-A", main, "-cfg", join(dir, "config.json")],
    /listening on (http:\/\/\S+)/,
  );
  const url = `${server.match[1]}/s,400x0/jpeg,80/files/photo.jpg`;
  const freshUrl = `${server.match[1]}/s,400x0/jpeg,80/fresh/photo.jpg`;
  const syncUrl = `${server.match[1]}/s,400x0/jpeg,80/sync/photo.jpg`;
  const sample = await fetch(url);
  await Deno.writeFile(join(dir, "result.jpg"), new Uint8Array(await sample.arrayBuffer()));
  await (await fetch(freshUrl)).body?.cancel();
  await (await fetch(syncUrl)).body?.cancel();
  const ceiling = await startChild(["run", "-A", ceilingScript, join(dir, "result.jpg")], /^\d+\n/);
  try {
    const requests = quick ? 3000 : 20000;
    // The three take turns, so a change in the machine's load falls on each alike; each
    // figure is the round with the median req/s.
    const rounds = quick ? 1 : 4;
    const targets = [
      [`http://127.0.0.1:${ceiling.match[0].trim()}/`, ceiling.child.pid],
      [freshUrl, server.child.pid],
      [url, server.child.pid],
      [syncUrl, server.child.pid],
    ] as const;
    const results = targets.map(() => [] as Awaited<ReturnType<typeof measured>>[]);
    for (let round = 0; round < rounds; round++) {
      for (const [i, [target, pid]] of targets.entries()) {
        results[i].push(await measured(target, pid, requests / rounds));
      }
    }
    const [base, fresh, hit, syncHit] = results.map((runs) =>
      runs.sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]
    );
    return { base, hit, fresh, syncHit };
  } finally {
    server.child.kill("SIGTERM");
    ceiling.child.kill("SIGTERM");
    await Promise.all([server.child.status, ceiling.child.status]);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Prints the comparison. */
export function printCacheHits(
  { base, hit, fresh, syncHit }: Awaited<ReturnType<typeof benchCacheHits>>,
): void {
  const runs = [
    ["minimal Deno.serve", base],
    ["hit, local (stat)", hit],
    ["hit, local, io sync", syncHit],
    ["hit, fresh validator", fresh],
  ] as const;
  for (const [name, result] of runs) {
    console.log(
      `${name.padEnd(22)} ${result.rps.toFixed(0).padStart(6)} req/s  p99 ${
        result.p99.toFixed(1)
      } ms  server CPU ${result.serverCpuUs.toFixed(0)} µs/request`,
    );
  }
  for (const [name, result] of runs.slice(1)) {
    console.log(
      `${name}: ×${(result.rps / base.rps).toFixed(2)} of the ceiling's req/s (target ≥ 0.5)` +
        `; CPU per request ×${(base.serverCpuUs / result.serverCpuUs).toFixed(2)} of the ceiling's`,
    );
  }
}

if (import.meta.main) printCacheHits(await benchCacheHits(Deno.args.includes("--quick")));
