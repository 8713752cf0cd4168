// The image route's promises that a client or an attacker can check from outside: routing
// from the request line only, short error bodies, HEAD like GET, admission before any read,
// and result identities that follow what made the pixels.
import assert from "node:assert/strict";
import { encode, photoLike, SharedServers, startTestServer, type TestServer } from "./helpers.ts";

const png = await encode(photoLike(64, 48), "png");
const big = await encode(photoLike(1500, 1000), "png");

/** Sends raw HTTP/1.1 bytes and answers the status line and the whole reply. */
async function rawRequest(port: number, text: string): Promise<{ status: number; reply: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(text));
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(65536);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      chunks.push(buffer.slice(0, n));
    }
    const reply = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    return { status: Number(reply.split(" ")[1]), reply };
  } finally {
    conn.close();
  }
}

/** One server with the logo for the three tests below that need nothing else. */
const servers = new SharedServers(() => startTestServer({ "logo.png": png }));

function portOf(server: TestServer): number {
  return server.app.addr.port;
}

servers.test("route: the path comes from the request line, never from a Host header", async () => {
  const server = (await servers.get("logo"))!;
  const smuggled = await rawRequest(
    portOf(server),
    "GET /health HTTP/1.1\r\nHost: 127.0.0.1/impressionist/s,20x20/png/files/logo.png?\r\n" +
      "Connection: close\r\n\r\n",
  );
  assert.equal(smuggled.status, 400);
  assert.ok(!smuggled.reply.includes("image/png"), "no image is served for /health");
  for (const host of ["a\\b", "a#b", "user@host", "a b"]) {
    const { status } = await rawRequest(
      portOf(server),
      `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(status, 400, `Host "${host}"`);
  }
  for (const host of ["127.0.0.1", `127.0.0.1:${portOf(server)}`, "[::1]:80", "images.example"]) {
    const { status, reply } = await rawRequest(
      portOf(server),
      `GET /impressionist/s,20x20/png/files/logo.png HTTP/1.1\r\nHost: ${host}\r\n` +
        "Connection: close\r\n\r\n",
    );
    assert.equal(status, 200, `Host "${host}"`);
    assert.match(reply, /content-type: image\/png/i);
  }
  // `new URL` would resolve these segments into another route; they are refused as written.
  const dots: [string, string][] = [
    ["/impressionist/s,20x20/png/files/../deno.json", ".."],
    ["/impressionist/s,20x20/png/files/x/%2E%2e/logo.png", "%2E%2e"],
    ["/impressionist/s,20x20/png/files/./logo.png", "."],
    ["/impressionist/s,20x20/../health", ".."],
  ];
  for (const [path, segment] of dots) {
    const { status, reply } = await rawRequest(
      portOf(server),
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(status, 400, path);
    assert.ok(reply.includes(`A "${segment}" segment is not allowed`), `${path}: ${reply}`);
  }
});

servers.test("route: error bodies stay short however long the client's text is", async () => {
  const server = (await servers.get("logo"))!;
  const long = "x".repeat(65_000);
  for (
    const url of [
      `${server.url}/${long}/png/files/logo.png`,
      `${server.url}/s,20x20/${long}/files/logo.png`,
      `${server.url}/s,20x20/png/files/${long}.png`,
      `${server.url}/s,20x20/png/${long}/logo.png`,
      `${server.url.replace("/impressionist", "")}/${long}`,
    ]
  ) {
    const response = await fetch(url);
    const body = await response.text();
    assert.ok(response.status >= 400 && response.status < 500, `${response.status}`);
    assert.ok(body.length <= 300, `a ${body.length}-character body for a long URL`);
    assert.ok(body.includes("…"), "the echoed text is elided");
  }
});

servers.test("route: a HEAD of an error answers the GET's status and headers, without a body", async () => {
  const server = (await servers.get("logo"))!;
  for (
    const url of [
      `${server.url}/nope,1/png/files/logo.png`,
      `${server.url}/s,20x20/png/files/missing.png`,
      `${server.url}/s,20x20/constructor/files/logo.png`,
    ]
  ) {
    const get = await fetch(url);
    const getBody = await get.arrayBuffer();
    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, get.status);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    for (const name of ["content-type", "content-length", "cache-control"]) {
      assert.equal(head.headers.get(name), get.headers.get(name), name);
    }
    assert.equal(Number(get.headers.get("content-length")), getBody.byteLength);
  }
});

servers.stopAfterTests("route: (the server the tests above shared stops)");

Deno.test("route: formats named like built-in properties are 400s and leave the pool usable", async () => {
  const server = await startTestServer({ "logo.png": png }, { http: { workers: 2, queue: 0 } });
  try {
    const names = [...Object.getOwnPropertyNames(Object.prototype), "prototype", "then"];
    for (const name of names) {
      for (
        const url of [
          `${server.url}/gs/${name}/files/logo.png`,
          `${server.url}/${name}/png/files/logo.png`,
        ]
      ) {
        const response = await fetch(url);
        await response.body?.cancel();
        assert.equal(response.status, 400, url);
      }
      const rotate = await fetch(`${server.url}/r,${name}/png/files/logo.png`);
      await rotate.body?.cancel();
      assert.equal(rotate.status, 400, `r,${name}`);
    }
    const after = await fetch(`${server.url}/s,10x10/png/files/logo.png`);
    await after.body?.cancel();
    assert.equal(after.status, 200, "the pool still works");
    const health = await (await fetch(server.url.replace("/impressionist", "/health"))).json();
    assert.equal(health.busy, 0);
  } finally {
    await server.close();
  }
});

Deno.test("route: a full pool refuses new requests before their source is read", async () => {
  let reads = 0;
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    reads++;
    const slow = new URL(request.url).pathname.startsWith("/big");
    return new Response(slow ? big : png, { headers: { "content-type": "image/png" } });
  });
  const server = await startTestServer({}, {
    http: { workers: 1, queue: 0, timeout: "20s" },
    storages: [{ name: "origin", type: "http", baseUrl: `http://127.0.0.1:${origin.addr.port}` }],
    caches: { source: 0 },
  });
  try {
    const running = fetch(`${server.url}/${Array(6).fill("b,30").join(",")}/png/origin/big.png`);
    // Wait until the slow job holds the only place.
    for (let i = 0; i < 200 && reads === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const readsBefore = reads;
    const refused = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) => fetch(`${server.url}/s,${i + 1}x0/png/origin/small${i}.png`),
      ),
    );
    for (const response of refused) {
      await response.body?.cancel();
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("retry-after"), "1");
    }
    assert.equal(reads, readsBefore, "no source was read for a refused request");
    const first = await running;
    await first.body?.cancel();
    assert.equal(first.status, 200);
  } finally {
    await server.close();
    await origin.shutdown();
  }
});

Deno.test("route: the ETag follows the backend the pool runs and the processing code's version", async () => {
  const server = await startTestServer({ "logo.png": png });
  try {
    const url = `${server.url}/s,20x20/png/files/logo.png`;
    const first = await fetch(url);
    await first.body?.cancel();
    const etag = first.headers.get("etag");
    assert.match(server.app.pool.identity, /^pure\/[\w-]{12}$/);
    // A reload that names another backend changes nothing until a restart: the pool still
    // runs pure, so results and ETags stay those of pure.
    const { parseConfig } = await import("../lib/config/config.ts");
    await server.app.reload(parseConfig({
      http: { host: "127.0.0.1", port: 0, workers: 1 },
      storages: [{ name: "files", type: "local", path: "files" }],
      backend: "graphicsmagick",
    }, server.dir));
    const second = await fetch(url);
    await second.body?.cancel();
    assert.equal(second.headers.get("etag"), etag);
    assert.equal(second.headers.get("x-cache"), "hit");
    const modified = Date.parse(second.headers.get("last-modified")!);
    assert.ok(modified >= Date.now() - 5000, "Last-Modified covers the config load");
  } finally {
    await server.close();
  }
});
