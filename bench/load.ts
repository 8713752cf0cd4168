import { ownCpuMs } from "./process.ts";

/** Throughput, latency, CPU and memory of one load run. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** CPU time of this (the server's) process per request: workers included, client not. */
  cpuPerRequest: number;
  /** CPU time of the load client's process per request (it shares the machine's cores). */
  clientCpuPerRequest: number;
  peakRss: number;
}

const client = new URL("./client.ts", import.meta.url).pathname;

/**
 * Runs `clients` concurrent loops from a separate process until `total` requests are done
 * (each must be a 200), while sampling this process's memory and CPU. `{i}` in the URL is
 * replaced by the request number.
 */
export async function loadRun(url: string, clients: number, total: number): Promise<LoadResult> {
  let peakRss = Deno.memoryUsage().rss;
  const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 20);
  const cpuBefore = ownCpuMs();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", client, url, String(clients), String(total)],
    stderr: "inherit",
  }).output();
  clearInterval(sampler);
  if (!output.success) throw new Error(`the load client failed for ${url}`);
  const { rps, p50, p99, cpuMs } = JSON.parse(new TextDecoder().decode(output.stdout));
  // The client also sends one warm-up request per loop.
  const requests = total + clients;
  const cpuPerRequest = (ownCpuMs() - cpuBefore) / requests;
  return { rps, p50, p99, cpuPerRequest, clientCpuPerRequest: cpuMs, peakRss };
}
