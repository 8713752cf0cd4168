// The cost of an `info` answer next to the image of the same chain, per backend: whole requests
// through the server (1 worker, no result cache, so each request does the work again), on a
// 4000x3000 photo-like JPEG. Medians, interleaved so the machine's load falls on both alike.
// Runs alone as `deno run -A bench/info.ts [--quick] [--backends=pure,…]`, or from bench/run.ts.
import type { BackendName } from "../lib/config/config.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { photoLike, startTestServer } from "../tests/helpers.ts";

/** The chains compared: a thumbnail, and the source itself (its info may shrink on load). */
const chains = ["s,400x0", "none"];
/** The image each chain's `info` is compared with. */
const image = "webp";

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

async function timed(url: string): Promise<number> {
  const start = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return performance.now() - start;
}

/** Prints, per backend and chain, the median time of `info` and of the image, and their ratio. */
export async function benchInfo(rounds: number, backends: readonly BackendName[]) {
  console.log(`\n## info next to ${image}: 4000x3000 JPEG, whole requests, 1 worker (median)`);
  const photo = await encodeBitmap(photoLike(4000, 3000), { type: "jpeg", quality: 90 });
  for (const backend of backends) {
    let server;
    try {
      server = await startTestServer({ "photo.jpg": photo }, {
        backend,
        http: { workers: 1, timeout: "60s" },
        caches: { result: 0 },
      });
    } catch (error) {
      console.log(`${backend}: skipped (${(error as Error).message})`);
      continue;
    }
    try {
      for (const chain of chains) {
        const urls = [
          `${server.url}/${chain}/info/files/photo.jpg`,
          `${server.url}/${chain}/${image}/files/photo.jpg`,
        ];
        for (const url of urls) await timed(url); // warm: the encoders' first run
        const times: number[][] = [[], []];
        for (let round = 0; round < rounds; round++) {
          for (const [i, url] of urls.entries()) times[i].push(await timed(url));
        }
        const [info, picture] = times.map(median);
        console.log(
          `${backend.padEnd(15)} ${chain.padEnd(9)} info ${
            info.toFixed(1).padStart(7)
          } ms  ${image} ${picture.toFixed(1).padStart(7)} ms  info/${image} ×${
            (info / picture).toFixed(2)
          }`,
        );
      }
    } finally {
      await server.close();
    }
  }
}

if (import.meta.main) {
  const chosen = Deno.args.find((a) => a.startsWith("--backends="))?.slice(11).split(",");
  await benchInfo(
    Deno.args.includes("--quick") ? 3 : 7,
    (chosen ?? ["pure", "imagemagick", "graphicsmagick", "vips"]) as BackendName[],
  );
}
