import assert from "node:assert/strict";
import { join } from "node:path";
import { encode, photoLike, startTestServer } from "./helpers.ts";

const photo = await encode(photoLike(320, 240), "jpeg");

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  const body = new Uint8Array(await response.arrayBuffer());
  return { response, body };
}

async function health(url: string) {
  return await (await fetch(url.replace("/impressionist", "/health"))).json();
}

Deno.test("http cache: ETag, Last-Modified, Cache-Control and 304s without work", async () => {
  const server = await startTestServer({ "a.jpg": photo }, {
    http: { cacheControl: "public, max-age=60" },
  });
  try {
    const url = `${server.url}/s,100x0/png/files/a.jpg`;
    const first = await get(url);
    assert.equal(first.response.status, 200);
    assert.equal(first.response.headers.get("x-cache"), "miss");
    assert.equal(first.response.headers.get("cache-control"), "public, max-age=60");
    const etag = first.response.headers.get("etag")!;
    assert.match(etag, /^"[\w-]+"$/);
    const lastModified = first.response.headers.get("last-modified")!;
    assert.ok(!Number.isNaN(Date.parse(lastModified)));

    const jobs = (await health(server.url)).jobs;
    for (const method of ["GET", "HEAD"]) {
      const byTag = await fetch(url, { method, headers: { "if-none-match": etag } });
      await byTag.body?.cancel();
      assert.equal(byTag.status, 304, method);
      assert.equal(byTag.headers.get("etag"), etag);
    }
    const byDate = await get(url, { "if-modified-since": lastModified });
    assert.equal(byDate.response.status, 304);
    assert.equal(byDate.body.byteLength, 0);
    const stale = await get(url, { "if-modified-since": new Date(0).toUTCString() });
    assert.equal(stale.response.status, 200);
    assert.equal(stale.response.headers.get("x-cache"), "hit");
    assert.deepEqual(stale.body, first.body);
    assert.equal((await health(server.url)).jobs, jobs, "no filter ran for 304s and hits");
    // A date in the future proves nothing about the client's copy.
    const future = await get(url, { "if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT" });
    assert.equal(future.response.status, 200);
    assert.deepEqual(future.body, first.body);

    // Another job on the same source has another ETag.
    const other = await get(`${server.url}/s,50x0/png/files/a.jpg`);
    assert.notEqual(other.response.headers.get("etag"), etag);
  } finally {
    await server.close();
  }
});

Deno.test("http cache: a changed source gives a new ETag and new pixels", async () => {
  const server = await startTestServer({ "a.jpg": photo });
  try {
    const url = `${server.url}/s,64x0/png/files/a.jpg`;
    const before = await get(url);
    const file = join(server.dir, "files", "a.jpg");
    await Deno.writeFile(file, await encode(photoLike(160, 120), "png"));
    // A new mtime even on coarse file systems.
    await Deno.utime(file, new Date(), new Date(Date.now() + 5000));
    const after = await get(url, { "if-none-match": before.response.headers.get("etag")! });
    assert.equal(after.response.status, 200);
    assert.notEqual(after.response.headers.get("etag"), before.response.headers.get("etag"));
    assert.notDeepEqual(after.body, before.body);
  } finally {
    await server.close();
  }
});

Deno.test("http cache: 20 concurrent identical requests run the transform once", async () => {
  const server = await startTestServer({ "a.jpg": photo }, { http: { workers: 2 } });
  try {
    const url = `${server.url}/b,3/jpeg/files/a.jpg`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(url)));
    assert.ok(answers.every((a) => a.response.status === 200));
    assert.ok(answers.every((a) => a.body.byteLength === answers[0].body.byteLength));
    assert.equal((await health(server.url)).jobs, 1);
  } finally {
    await server.close();
  }
});

Deno.test("http cache: the disk tier survives a restart and never serves a damaged file", async () => {
  const cacheDir = await Deno.makeTempDir();
  const sameTime = new Date("2026-01-01T00:00:00Z");
  // Each server gets a new directory; the same bytes and mtime make the same source.
  const run = async (check: (url: string, jobs: () => Promise<number>) => Promise<void>) => {
    const server = await startTestServer({ "a.jpg": photo }, { caches: { resultDir: cacheDir } });
    await Deno.utime(join(server.dir, "files", "a.jpg"), sameTime, sameTime);
    try {
      await check(
        `${server.url}/s,80x0/png/files/a.jpg`,
        async () => (await health(server.url)).jobs,
      );
    } finally {
      await server.close();
    }
  };
  let original = new Uint8Array();
  await run(async (url) => {
    original = (await get(url)).body;
  });
  const files = [...Deno.readDirSync(cacheDir)].map((e) => e.name);
  assert.equal(files.length, 1, "one file, no temporary left behind");

  await run(async (url, jobs) => {
    const { response, body } = await get(url);
    assert.equal(response.headers.get("x-cache"), "hit");
    assert.deepEqual(body, original);
    assert.equal(await jobs(), 0);
  });

  // A crash mid-write, simulated: the file is cut short.
  const path = join(cacheDir, files[0]);
  const whole = await Deno.readFile(path);
  await Deno.writeFile(path, whole.subarray(0, whole.length - 10));
  await run(async (url, jobs) => {
    const { response, body } = await get(url);
    assert.equal(response.headers.get("x-cache"), "miss");
    assert.deepEqual(body, original);
    assert.equal(await jobs(), 1);
  });
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("http cache: a source dated in the future gets no Last-Modified (RFC 9110: never after Date)", async () => {
  const server = await startTestServer({ "a.jpg": photo });
  try {
    const file = join(server.dir, "files", "a.jpg");
    await Deno.utime(file, new Date("2030-01-01T00:00:00Z"), new Date("2030-01-01T00:00:00Z"));
    const url = `${server.url}/s,100x0/png/files/a.jpg`;
    const first = await get(url);
    assert.equal(first.response.status, 200);
    // No date can be told for it: a future one would pin a cache's copy until then.
    assert.equal(first.response.headers.get("last-modified"), null);
    const since = await get(url, { "if-modified-since": new Date().toUTCString() });
    assert.equal(since.response.status, 200);
    const again = await get(url, { "if-none-match": first.response.headers.get("etag")! });
    assert.equal(again.response.status, 304);
  } finally {
    await server.close();
  }
});
