// The image work runs at a lower scheduling priority than the HTTP thread (`http.workerNice`),
// its library's own threads included, so a request's wake-ups never wait behind it.
import assert from "node:assert/strict";
import { encode, photoLike } from "./helpers.ts";
import { startBackendChild } from "./child_server.ts";

/** Waits until the pool's spare worker has started, so that every worker thread has its place. */
async function spareReady(origin: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const health = await (await fetch(`${origin}/health`)).json();
    if (health.spare === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the spare worker did not start");
}

/** Every thread of `pid`: its name and nice value, from /proc (Linux). */
function threadsOf(pid: number): { tid: number; name: string; nice: number }[] {
  return [...Deno.readDirSync(`/proc/${pid}/task`)].map(({ name: tid }) => {
    const stat = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`);
    // The name is in parentheses and may hold spaces; the fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const name = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/comm`).trim();
    return { tid: Number(tid), name, nice: Number(fields[16]) };
  });
}

const linux = Deno.build.os === "linux";
const files = { "photo.jpg": await encode(photoLike(640, 480), "jpeg") };

Deno.test({
  name: "priority: workers and libvips' threads run 10 nice levels below the HTTP thread",
  ignore: !linux,
  async fn() {
    const server = await startBackendChild(files, "vips");
    if (!server) return;
    try {
      for (const width of [100, 200, 300]) {
        const response: Response = await fetch(`${server.url}/s,${width}x0/jpeg/files/photo.jpg`);
        await response.arrayBuffer();
        assert.equal(response.status, 200);
      }
      await spareReady(server.origin);
      const threads = threadsOf(server.pid);
      const main = threads.find(({ tid }) => tid === server.pid)!;
      const workers = threads.filter(({ name }) => /^worker-\d+$/.test(name));
      const library = threads.filter(({ name }) => name.startsWith("libvips"));
      assert.ok(workers.length >= 2, JSON.stringify(threads));
      assert.ok(library.length >= 1, JSON.stringify(threads));
      for (const thread of [...workers, ...library]) {
        assert.equal(thread.nice, Math.min(19, main.nice + 10), JSON.stringify(thread));
      }
      // The threads doing the HTTP thread's file reads keep its priority.
      for (const thread of threads.filter(({ name }) => name.startsWith("tokio"))) {
        assert.equal(thread.nice, main.nice, JSON.stringify(thread));
      }
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "priority: http.workerNice 0 keeps the workers at the HTTP thread's priority",
  ignore: !linux,
  async fn() {
    const server = await startBackendChild(files, "pure", { http: { workerNice: 0 } });
    try {
      const response = await fetch(`${server!.url}/s,100x0/jpeg/files/photo.jpg`);
      await response.arrayBuffer();
      assert.equal(response.status, 200);
      await spareReady(server!.origin);
      const threads = threadsOf(server!.pid);
      const main = threads.find(({ tid }) => tid === server!.pid)!;
      const workers = threads.filter(({ name }) => /^worker-\d+$/.test(name));
      assert.ok(workers.length >= 2, JSON.stringify(threads));
      for (const thread of workers) assert.equal(thread.nice, main.nice, JSON.stringify(thread));
    } finally {
      await server!.close();
    }
  },
});
