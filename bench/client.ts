// The load generator, run as its own process so its work does not share the server's thread:
// `deno run -A bench/client.ts URL CLIENTS TOTAL` prints {rps, p50, p99, cpuMs} as JSON, cpuMs
// being the client's own CPU time per request: what a server pays on a machine it shares with
// its load and a bare loop does not.
import { cpuUsage } from "node:process";

const [url, clients, total] = [Deno.args[0], Number(Deno.args[1]), Number(Deno.args[2])];

async function fetchOk(target: string) {
  const response = await fetch(target);
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${target}: ${response.status}`);
}

// `{i}` in the URL becomes the request number, for workloads that must not share results.
const urlFor = (i: number) => url.replaceAll("{i}", String(i % total));

await Promise.all(Array.from({ length: clients }, (_, i) => fetchOk(urlFor(i))));
const latencies: number[] = [];
let started = 0;
const begin = performance.now();
await Promise.all(Array.from({ length: clients }, async () => {
  for (let i = started++; i < total; i = started++) {
    const t = performance.now();
    await fetchOk(urlFor(i));
    latencies.push(performance.now() - t);
  }
}));
const elapsed = performance.now() - begin;
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
const { user, system } = cpuUsage();
const cpuMs = (user + system) / 1000 / (total + clients);
console.log(JSON.stringify({ rps: (total / elapsed) * 1000, p50: at(0.5), p99: at(0.99), cpuMs }));
