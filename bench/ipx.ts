import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuMsOf } from "./process.ts";

/** ipx running in its own Node process, serving a directory. */
export interface IpxServer {
  url: string;
  /** CPU time of the Node process so far (Linux /proc), in milliseconds. */
  cpuMs(): number;
  close(): Promise<void>;
}

const folder = join(dirname(fileURLToPath(import.meta.url)), "ipx");

/**
 * Installs ipx (the exact versions of bench/ipx/package-lock.json, into bench/ipx/node_modules)
 * on first use, and starts it on `dir` under Node.
 *
 * @throws {Error} when Node or npm is missing or ipx does not start
 */
export async function startIpx(dir: string): Promise<IpxServer> {
  try {
    await Deno.stat(join(folder, "node_modules", "ipx"));
  } catch {
    const install = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund"],
      cwd: folder,
      stdout: "null",
    }).output();
    if (!install.success) throw new Error(`npm ci in ${folder} failed`);
  }
  const child = new Deno.Command("node", {
    args: [join(folder, "serve.mjs"), dir],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  const port = Number(value?.split("\n")[0]);
  if (!port) throw new Error("ipx did not start");
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMs: () => cpuMsOf(child.pid),
    async close() {
      child.kill("SIGTERM");
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
    },
  };
}
