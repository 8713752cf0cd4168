import { join } from "node:path";
import type { BackendName } from "../lib/config/config.ts";
import { cpuMsOf, peakRssOf } from "./process.ts";

/** impressionist running in a process of its own, as in production. */
export interface ServerProcess {
  /** The image root, such as `http://127.0.0.1:8080/impressionist`. */
  url: string;
  /** CPU time of the whole server (workers included) so far, in milliseconds. */
  cpuMs(): number;
  /** Peak resident memory of the server so far, in bytes. */
  peakRss(): number;
  close(): Promise<void>;
}

const main = new URL("../main.ts", import.meta.url).pathname;
const lock = new URL("../deno.lock", import.meta.url).pathname;

/**
 * Starts `main.ts` on `backend` with `workers` workers (the server's default when undefined),
 * both caches off, serving the files of `dir` as the storage `files`.
 *
 * @throws {Error} with the server's output when it does not start (a missing library)
 */
export async function startServerProcess(
  backend: BackendName,
  dir: string,
  workers?: number,
): Promise<ServerProcess> {
  const config = join(await Deno.makeTempDir({ prefix: "impressionist-bench-" }), "config.json");
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      http: { host: "127.0.0.1", port: 0, workers, timeout: "60s" },
      caches: { source: -1, result: 0 },
      backend,
      storages: [{ name: "files", type: "local", path: dir }],
    }),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--lock=${lock}`, main, "-cfg", config],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let url: string | undefined;
  while (!url) {
    const { value, done } = await reader.read();
    if (done) {
      const error = await new Response(child.stderr).text();
      await Deno.remove(join(config, ".."), { recursive: true });
      throw new Error(`the ${backend} server did not start: ${error.trim().split("\n")[0]}`);
    }
    seen += value;
    url = /listening on (http:\/\/\S+)/.exec(seen)?.[1];
  }
  // Keep draining the access log (and errors), so the server never blocks on a full pipe.
  const drained = (async () => {
    while (!(await reader.read()).done);
  })();
  const stderr = new Response(child.stderr).arrayBuffer();
  return {
    url,
    cpuMs: () => cpuMsOf(child.pid),
    peakRss: () => peakRssOf(child.pid),
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await drained;
      await stderr;
      await Deno.remove(join(config, ".."), { recursive: true });
    },
  };
}
