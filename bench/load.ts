import { liveThreadsCpuMsOf, ownCpuMs, rssOf } from "./process.ts";

/** Throughput, latency, CPU and memory of one load run. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** CPU time of this (the server's) process per request: workers included, client not. */
  cpuPerRequest: number;
  /** CPU time of the load client's process per request (it shares the machine's cores). */
  clientCpuPerRequest: number;
  /** Requests the server answered in the run, the timed ones and any warm-up. */
  requests: number;
  peakRss: number;
}

/** What a load client measured of its own run. */
interface ClientRun {
  rps: number;
  p50: number;
  p99: number;
  clientCpuMs: number;
  requests: number;
}

const denoClient = new URL("./client.ts", import.meta.url).pathname;
const wrkScript = new URL("./wrk.lua", import.meta.url).pathname;

/**
 * The load client: wrk where it is installed (`apt-get install wrk`), the bench's Deno client
 * otherwise. On the two cores a server shares with its load, the client's own CPU is taken
 * from the server: the Deno client costs 0.7–1.2 ms per W1 request, wrk about a tenth of it.
 */
const useWrk = await (async () => {
  try {
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    console.log("(load client: bench/client.ts; install wrk for a client that takes less CPU)");
    return false;
  }
})();

/** The load client in use, for the bench's printout. */
export const loadClientName = useWrk ? "wrk" : "bench/client.ts";

/** bench/client.ts in its own process; it sends one untimed request per loop first. */
async function denoRun(url: string, clients: number, total: number): Promise<ClientRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", denoClient, url, String(clients), String(total)],
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`the load client failed for ${url}`);
  const { rps, p50, p99, cpuMs } = JSON.parse(new TextDecoder().decode(output.stdout));
  return { rps, p50, p99, clientCpuMs: cpuMs, requests: total + clients };
}

/**
 * wrk on one thread with `clients` connections, driven by bench/wrk.lua: exactly `total`
 * requests, then wrk is stopped (it only knows durations) and its CPU read just before. Its
 * duration only bounds a run that cannot finish (a server gone): 2 s a request and a minute.
 */
async function wrkRun(url: string, clients: number, total: number): Promise<ClientRun> {
  const [, origin, path] = /^(https?:\/\/[^/]+)(\/.*)$/.exec(url) ?? [];
  if (!origin) throw new Error(`not an http URL: ${url}`);
  const child = new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${clients}`,
      `-d${60 + 2 * total}s`,
      "--timeout",
      "120s",
      "-s",
      wrkScript,
      origin,
      "--",
    ]
      .concat([path, String(total)]),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let clientCpuMs: number | undefined;
  let seen = "";
  const lines = child.stdout.pipeThrough(new TextDecoderStream());
  for await (const chunk of lines) {
    seen += chunk;
    if (clientCpuMs === undefined && seen.includes("finished\n")) {
      clientCpuMs = liveThreadsCpuMsOf(child.pid);
      child.kill("SIGINT");
    }
  }
  await child.status;
  const summary = /^\{.*\}$/m.exec(seen);
  if (clientCpuMs === undefined || !summary) {
    throw new Error(`wrk did not finish for ${url}:\n${seen}`);
  }
  // wrk's own error counts are not read: they include a server closing a connection left idle
  // once the budget is spent (Node does after 5 s), which loses no request.
  const { answered, failed, seconds, p50, p99 } = JSON.parse(summary[0]);
  if (failed || answered !== total) {
    throw new Error(`${url}: ${answered} of ${total} answered, ${failed} not a 200`);
  }
  return { rps: answered / seconds, p50, p99, clientCpuMs: clientCpuMs / total, requests: total };
}

/**
 * Runs `clients` concurrent loops from a separate process until `total` requests are done
 * (each must be a 200), while sampling this process's memory and CPU. `{i}` in the URL is
 * replaced by the request number.
 */
export async function loadRun(url: string, clients: number, total: number): Promise<LoadResult> {
  let peakRss = rssOf(Deno.pid);
  const sampler = setInterval(() => peakRss = Math.max(peakRss, rssOf(Deno.pid)), 20);
  const cpuBefore = ownCpuMs();
  const run = await (useWrk ? wrkRun : denoRun)(url, clients, total).finally(() =>
    clearInterval(sampler)
  );
  const { rps, p50, p99, clientCpuMs, requests } = run;
  const cpuPerRequest = (ownCpuMs() - cpuBefore) / requests;
  return { rps, p50, p99, cpuPerRequest, clientCpuPerRequest: clientCpuMs, requests, peakRss };
}
