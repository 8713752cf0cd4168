import { cpuUsage } from "node:process";

/** Throughput, latency, CPU and memory of one load run. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  cpuPerRequest: number;
  peakRss: number;
}

/** CPU time (user + system) of this process, all threads and workers, in milliseconds. */
function cpuMs(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

/**
 * `clients` loops each fetching `url` until `total` requests are done; every answer must be a
 * 200. One warm-up request per client is not counted.
 */
export async function loadRun(url: string, clients: number, total: number): Promise<LoadResult> {
  const fetchOk = async () => {
    const response = await fetch(url);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
  };
  await Promise.all(Array.from({ length: clients }, fetchOk));
  let peakRss = Deno.memoryUsage().rss;
  const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 20);
  const latencies: number[] = [];
  let started = 0;
  const cpuBefore = cpuMs();
  const begin = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (started++ < total) {
      const t = performance.now();
      await fetchOk();
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = performance.now() - begin;
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return {
    rps: (latencies.length / elapsed) * 1000,
    p50: at(0.5),
    p99: at(0.99),
    cpuPerRequest: (cpuMs() - cpuBefore) / latencies.length,
    peakRss,
  };
}
