// The shared result store against the other ways to answer W1 (a 4096x4096 JPEG → s,400x0):
// a hit in memory, a hit in the shared store (s3rver in this process), and a transform.
import { join } from "node:path";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { photoLike, startTestServer, type TestServer } from "../tests/helpers.ts";
import { s3Credentials, startS3 } from "../tests/s3rver.ts";
import { type LoadResult, loadRun } from "./load.ts";

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** The run with the median p50 of several. */
function medianRun(runs: LoadResult[]): LoadResult {
  return [...runs].sort((a, b) => a.p50 - b.p50)[Math.floor(runs.length / 2)];
}

async function xCache(url: string): Promise<string | null> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.headers.get("x-cache");
}

/** Prints the median time of each answer, one client at a time, and their ratios. */
export async function benchShared(quick: boolean): Promise<void> {
  console.log(
    "\n## W1 (4096x4096 JPEG → s,400x0/jpeg): shared-store hit vs memory hit vs transform",
  );
  const photo = await encodeBitmap(photoLike(4096, 4096), { type: "jpeg", quality: 90 });
  const s3 = await startS3(["results"]);
  const store = {
    name: "store",
    type: "s3",
    ...s3Credentials,
    endpoint: s3.endpoint,
    bucket: "results",
  };
  const servers: TestServer[] = [];
  try {
    // Every server reads the first one's file, so all share its validator and result key. The
    // maker also answers the memory hits.
    const maker = await startTestServer({ "w1.jpg": photo }, {
      storages: [{ name: "files", type: "local", path: "files" }, store],
      caches: { shared: "store" },
    });
    servers.push(maker);
    const files = { name: "files", type: "local", path: join(maker.dir, "files") };
    // No memory tier: every request asks the shared store.
    const reader = await startTestServer({}, {
      storages: [files, store],
      caches: { shared: "store", result: 0 },
    });
    servers.push(reader);
    // No result cache at all: every request transforms (the source stays cached).
    const worker = await startTestServer({}, { storages: [files], caches: { result: 0 } });
    servers.push(worker);

    const path = "/s,400x0/jpeg/files/w1.jpg";
    const made = await fetch(maker.url + path);
    await made.body?.cancel();
    if (made.headers.get("x-cache") !== "miss") throw new Error("the first request was not a miss");
    // The maker writes to the store in the background; wait until the reader finds it there.
    for (let i = 0; (await xCache(reader.url + path)) !== "shared"; i++) {
      if (i === 100) throw new Error("the shared store never answered");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Alternating rounds, so a burst of load elsewhere on the machine hits both alike.
    const hits = quick ? 50 : 200;
    const memoryRuns: LoadResult[] = [];
    const sharedRuns: LoadResult[] = [];
    for (let round = 0; round < (quick ? 3 : 7); round++) {
      memoryRuns.push(await loadRun(maker.url + path, 1, hits));
      sharedRuns.push(await loadRun(reader.url + path, 1, hits));
    }
    const memory = medianRun(memoryRuns);
    const shared = medianRun(sharedRuns);
    const transform = await loadRun(worker.url + path, 1, quick ? 3 : 8);
    for (
      const [name, result] of [
        ["memory hit", memory],
        ["shared-store hit", shared],
        ["transform", transform],
      ] as const
    ) {
      console.log(`${name.padEnd(18)} p50 ${ms(result.p50).padStart(9)}  p99 ${ms(result.p99)}`);
    }
    console.log(
      `shared hit − memory hit: ${ms(shared.p50 - memory.p50)}; a transform takes ×${
        (transform.p50 / shared.p50).toFixed(0)
      } a shared hit`,
    );
  } finally {
    for (const server of servers) await server.close();
    await s3.close();
  }
}
