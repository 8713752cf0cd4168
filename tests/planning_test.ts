// Issue 21's table, row by row, on every installed backend: what a request makes is planned
// (watermarks, AVIF, WebP, a blur's scratch), so each row is either a quick 4xx naming the
// limit, or it finishes (200, or 503 at the deadline) with a peak RSS under 1 GB and the worker
// quiet right after the answer; the next request is served. One child server per backend, with
// the example watermark (the 400x400 logo at scale 0.2) and the same image at scale 1.
import assert from "node:assert/strict";
import { encode, photoLike, startTestServer } from "./helpers.ts";
import { animatedGif } from "./hostile_images.ts";
import {
  backendNames,
  type ChildServer,
  cpuDuring,
  rss,
  startBackendChild,
} from "./child_server.ts";

const GB = 1e9;
/** A refusal is quick: planned from the headers, before any pixel is decoded. */
const QUICK_MS = 1500;

const logo = await Deno.readFile(new URL("../examples/logo.png", import.meta.url));
const files = {
  "logo.png": logo,
  "photo.jpg": await encode(photoLike(400, 300), "jpeg"),
  "big.jpg": await encode(photoLike(4096, 4096), "jpeg"),
};
const mark = { storage: "files", path: "logo.png", gravity: "se", margin: 16, opacity: 0.6 };
const config = {
  http: { timeout: "10s", workers: 1 },
  watermarks: [{ name: "logo", ...mark, scale: 0.2 }, { name: "full", ...mark, scale: 1 }],
};

interface Row {
  path: string;
  /** What the answer names when it is a refusal. */
  limit?: RegExp;
  /** The statuses this row may end with on a backend. */
  allowed: (backend: string) => number[];
}

/** A job that finishes: served, or a 503 at the deadline on a machine too busy for it. */
const finishes = () => [200, 503];

const rows: Row[] = [
  { path: "s,100000x1,wm,logo/png/files/photo.jpg", allowed: finishes },
  { path: "s,30000x1,wm,full/png/files/photo.jpg", allowed: finishes },
  {
    path: "s,100000x1,wm,full/png/files/photo.jpg",
    limit: /image\.maxOutputPixels/,
    allowed: () => [400],
  },
  {
    path: "s,7000x7000/avif/files/photo.jpg",
    limit: /http\.timeout|image\.maxJobBytes/,
    allowed: () => [400],
  },
  {
    path: "s,16000x3000/webp/files/photo.jpg",
    limit: /http\.timeout|image\.maxJobBytes/,
    allowed: () => [400],
  },
  // Debian's ImageMagick policy refused this one (422 "cache resources exhausted").
  { path: "b,2/jpeg/files/big.jpg", allowed: finishes },
];

/** The answer to `path`, how long it took, and the server's peak RSS while it ran. */
async function measured(server: ChildServer, path: string) {
  let peak = await rss(server.pid);
  let done = false;
  const sampler = (async () => {
    while (!done) {
      try {
        peak = Math.max(peak, await rss(server.pid));
      } catch {
        return; // The process is gone: the test fails on its liveness.
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const start = performance.now();
  try {
    const response = await fetch(`${server.url}/${path}`);
    const body = new Uint8Array(await response.arrayBuffer());
    return { status: response.status, body, ms: performance.now() - start, peak };
  } finally {
    done = true;
    await sampler;
  }
}

for (const backend of await backendNames()) {
  Deno.test(`planning: issue 21's rows are refused quickly or finish within 1 GB and go quiet (${backend})`, async () => {
    const server = await startBackendChild(files, backend, config, { maxRss: 2.5 * GB });
    if (!server) return;
    const failures: string[] = [];
    try {
      for (const row of rows) {
        const answer = await measured(server, row.path);
        const text = new TextDecoder().decode(answer.body.subarray(0, 300));
        const what = `${row.path}: ${answer.status} in ${answer.ms.toFixed(0)} ms, peak ${
          (answer.peak / 2 ** 20).toFixed(0)
        } MiB: ${answer.status === 200 ? `${answer.body.length} bytes` : text}`;
        const refused = answer.status >= 400 && answer.status < 500;
        // A refusal is planned, so it leaves nothing running; a finished job may have, which
        // would show at once.
        const after = await cpuDuring(server.pid, refused ? 500 : 2000);
        const problems = [
          !row.allowed(backend).includes(answer.status) && "unexpected status",
          refused && answer.ms > QUICK_MS && "a slow refusal",
          refused && row.limit && !row.limit.test(text) && "the refusal names no limit",
          answer.peak >= GB && "peak RSS over 1 GB",
          after >= 0.6 && `${after.toFixed(2)} CPU-s after the answer`,
        ].filter(Boolean);
        const next = await fetch(`${server.url}/s,40x0/png/files/photo.jpg`);
        await next.body?.cancel();
        if (next.status !== 200) problems.push(`the next request got ${next.status}`);
        if (problems.length > 0) failures.push(`${problems.join(", ")}: ${what}`);
      }
      assert.ok(server.alive(), "the server died");
    } finally {
      await server.close();
    }
    assert.deepEqual(
      failures,
      [],
      `${backend}:\n${failures.join("\n")}\n${server.output().slice(-800)}`,
    );
  });
}

Deno.test("planning: concurrent jobs are admitted against image.maxInflightJobBytes, the rest 503 before work", async () => {
  // s,1000x1000/png plans 1000² × (4 + 8) bytes for its encode: 12 MB. Two fit in 30 MB, three
  // do not; the pool itself has room for all (two workers, a queue).
  const server = await startTestServer({ "photo.jpg": files["photo.jpg"] }, {
    http: { workers: 2, queue: 8 },
    image: { maxJobBytes: 20_000_000, maxInflightJobBytes: 30_000_000 },
    caches: { result: 0 },
  });
  try {
    const answers = await Promise.all(
      [1000, 1001, 1002].map(async (side) => {
        const response = await fetch(`${server.url}/s,${side}x${side}/png/files/photo.jpg`);
        return { status: response.status, text: response.ok ? "" : await response.text() };
      }),
    );
    const refused = answers.filter((answer) => answer.status === 503);
    assert.equal(
      answers.filter((answer) => answer.status === 200).length,
      2,
      JSON.stringify(answers),
    );
    assert.equal(refused.length, 1, JSON.stringify(answers));
    assert.match(refused[0].text, /image\.maxInflightJobBytes/);
    // The bytes come back: the next one is served.
    const next = await fetch(`${server.url}/s,1003x1003/png/files/photo.jpg`);
    await next.body?.cancel();
    assert.equal(next.status, 200);
  } finally {
    await server.close();
  }
});

for (const backend of await backendNames()) {
  Deno.test(`planning: an animated GIF kept whole grows the server by no more than image.maxJobBytes (${backend})`, async () => {
    // The magick libraries read every frame, then coalesce them into a second copy: 10 frames
    // of 1000x1000 grew ImageMagick by 177 MiB, GraphicsMagick by 187, where 76 were planned.
    const maxJobBytes = 160 * 2 ** 20;
    const gifs = { "f6.gif": animatedGif(1000, 1000, 6), "f10.gif": animatedGif(1000, 1000, 10) };
    const server = await startBackendChild(gifs, backend, {
      image: { maxJobBytes },
      caches: { result: 0 },
    });
    if (!server) return;
    try {
      const warm = await fetch(`${server.url}/s,20x20/gif/files/f6.gif`);
      await warm.body?.cancel();
      const served: string[] = [];
      for (const name of Object.keys(gifs)) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const base = await rss(server.pid);
        const answer = await measured(server, `s,50x50-/gif/files/${name}`);
        const text = new TextDecoder().decode(answer.body.subarray(0, 300));
        const grown = answer.peak - base;
        if (answer.status === 200) {
          served.push(name);
          assert.ok(grown <= maxJobBytes, `${name}: grew ${(grown / 2 ** 20).toFixed(0)} MiB`);
        } else {
          assert.equal(answer.status, 422, `${name}: ${text}`);
          assert.match(text, /image\.maxJobBytes/);
        }
      }
      // Six frames (6 MP) fit on every backend.
      assert.ok(served.includes("f6.gif"), `served: ${served}`);
    } finally {
      await server.close();
    }
  });
}
