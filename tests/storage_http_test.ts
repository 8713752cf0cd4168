import assert from "node:assert/strict";
import { brotliCompressSync, constants, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { ConfigError } from "../lib/config/config.ts";
import { ConfigReader } from "../lib/config/reader.ts";
import { BadGateway, GatewayTimeout, NotFound, TooLarge } from "../lib/errors.ts";
import { createHttpStorage } from "../storages/http.ts";
import type { Source, Storage } from "../storages/storage.ts";

type Handler = (request: Request) => Response | Promise<Response>;

/** What the origin was asked for; Deno closes a Request once it is answered. */
interface Seen {
  url: URL;
  headers: Headers;
}

/** A fake origin on a loopback port, stopped after `run`. */
async function withOrigin(
  handler: Handler,
  run: (origin: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    seen.push({ url: new URL(request.url), headers: new Headers(request.headers) });
    return handler(request);
  });
  try {
    await run(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

function httpStorage(settings: Record<string, unknown>): Promise<Storage> {
  const reader = ConfigReader.of({ name: "x", type: "http", ...settings }, "storages[0]");
  return createHttpStorage(
    { name: reader.string("name"), type: reader.string("type"), reader },
    ".",
  );
}

function pathsOf(seen: Seen[]): string[] {
  return seen.map((request) => request.url.pathname);
}

const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]);
const options = { maxBytes: 1024 };

Deno.test("http storage fetches a file under baseUrl with the configured headers", async () => {
  const lastModified = "Tue, 01 Oct 2024 10:00:00 GMT";
  await withOrigin(
    () => new Response(png, { headers: { "ETag": '"v1"', "Last-Modified": lastModified } }),
    async (origin, seen) => {
      const storage = await httpStorage({
        baseUrl: `${origin}/img`,
        headers: { "X-Token": "secret" },
      });
      const source = await storage.get("photos/cat 1.png", options) as Source;
      assert.deepEqual(source.bytes, png);
      assert.equal(source.validator, 'etag:"v1"');
      assert.deepEqual(source.modified, new Date(lastModified));
      assert.deepEqual(pathsOf(seen), ["/img/photos/cat%201.png"]);
      assert.equal(seen[0].headers.get("x-token"), "secret");
    },
  );
});

Deno.test("http storage maps 404 and 410 to NotFound, other errors to BadGateway", async () => {
  const statuses: Record<string, number> = { "/gone": 410, "/boom": 500 };
  await withOrigin(
    (request) => new Response("no", { status: statuses[new URL(request.url).pathname] ?? 404 }),
    async (origin) => {
      const storage = await httpStorage({ baseUrl: origin });
      await assert.rejects(storage.get("missing.png", options), NotFound);
      await assert.rejects(storage.get("gone", options), NotFound);
      const boom = { name: "BadGateway", message: /Upstream answered 500/ };
      await assert.rejects(storage.get("boom", options), boom);
    },
  );
});

Deno.test("http storage refuses a source too large by its Content-Length", async () => {
  await withOrigin(() => new Response(new Uint8Array(2000)), async (origin) => {
    const storage = await httpStorage({ baseUrl: origin });
    // The message names the declared size: refused before reading.
    await assert.rejects(storage.get("a", options), { name: "TooLarge", message: /2000 bytes/ });
    // The storage's own cap applies when it is the smaller one.
    const capped = await httpStorage({ baseUrl: origin, maxBytes: 100 });
    await assert.rejects(capped.get("a", { maxBytes: 1_000_000 }), TooLarge);
  });
});

Deno.test("http storage refuses a streamed source once it passes the cap", async () => {
  let cancelled = false;
  // Endless, so the test only finishes if the storage stops reading and cancels the body.
  const endless = () =>
    new Response(
      new ReadableStream({
        pull: (controller) => controller.enqueue(new Uint8Array(256)),
        cancel: () => {
          cancelled = true;
        },
      }),
    );
  await withOrigin(endless, async (origin) => {
    const storage = await httpStorage({ baseUrl: origin });
    await assert.rejects(storage.get("a", options), TooLarge);
  });
  assert.ok(cancelled);
});

Deno.test("http storage answers GatewayTimeout when the origin is slow", async () => {
  const release = Promise.withResolvers<void>();
  // "/headers" waits before answering; "/body" answers and then stalls in the body.
  const slow: Handler = async (request) => {
    if (new URL(request.url).pathname === "/headers") await release.promise;
    return new Response(new ReadableStream({ start: (c) => c.enqueue(png) }));
  };
  await withOrigin(slow, async (origin) => {
    const storage = await httpStorage({ baseUrl: origin, timeout: "200ms" });
    for (const path of ["headers", "body"]) {
      const start = performance.now();
      await assert.rejects(storage.get(path, options), GatewayTimeout);
      const elapsed = performance.now() - start;
      assert.ok(elapsed >= 150 && elapsed < 2000, `${path} took ${elapsed} ms`);
    }
    release.resolve();
  });
});

Deno.test("http storage rethrows the caller's abort unchanged", async () => {
  const release = Promise.withResolvers<void>();
  const held: Handler = async () => {
    await release.promise;
    return new Response(png);
  };
  await withOrigin(held, async (origin) => {
    const storage = await httpStorage({ baseUrl: origin, timeout: "5s" });
    const caller = new AbortController();
    const pending = storage.get("a", { ...options, signal: caller.signal });
    setTimeout(() => caller.abort(), 50);
    await assert.rejects(pending, (error: Error) => error.name === "AbortError");
    release.resolve();
  });
});

/** Redirect targets that leave `/img/`, some only once percent-decoded (`/img/oN` sends `N`). */
const outside = [
  (port: string) => `http://localhost:${port}/img/r0`, // another origin, though the same server
  () => "/other/r0",
  () => "/img/../other/r0",
  () => "/img/%2e%2e/other/r0",
  () => "//example.com/img/r0",
  () => "/img/..%2fother/r0",
  () => "/img/..%2Fother/r0",
  () => "/img/%2e%2e%2fother/r0",
  () => "/img/..%5cother/r0",
  () => "/img/a%2f..%2f..%2fother/r0",
  () => "/img/a/..%2f..%2fother/r0",
  () => "/img/%2f..%2fother/r0", // "/img//../other/r0" decoded: "/other/r0" to nginx
  () => "/img/%252e%252e%252fother/r0", // for an origin that decodes twice
  () => "/img/%25252e%25252e%25252fother/r0", // encoded past any real name
  () => "/img/..%2f",
];

/**
 * `/img/rN` redirects to `/img/r(N-1)` and `/img/r0` is the file; `/img/oN` to `outside[N]`
 * (past the list: a redirect without a location); `/img/d0` to `/img/dir%2Fr0`, which stays
 * under `/img/` even decoded, and is the file too.
 */
function redirecting(request: Request): Response {
  const url = new URL(request.url);
  if (url.pathname === "/img/dir%2Fr0") return new Response(png);
  const [, kind, n] = /^\/img\/([rod])(\d+)$/.exec(url.pathname) ?? [];
  if (kind === "r" && n === "0") return new Response(png);
  const location = kind === "r"
    ? `r${Number(n) - 1}`
    : kind === "d"
    ? "/img/dir%2Fr0"
    : outside[Number(n)]?.(url.port);
  const headers: HeadersInit = location === undefined ? {} : { location };
  return new Response(null, { status: kind === "r" ? 302 : 307, headers });
}

Deno.test("http storage follows up to 3 redirects under its base URL", async () => {
  await withOrigin(redirecting, async (origin, seen) => {
    const storage = await httpStorage({ baseUrl: `${origin}/img/` });
    const source = await storage.get("r3", options) as Source;
    assert.deepEqual(source.bytes, png);
    assert.deepEqual(pathsOf(seen), ["/img/r3", "/img/r2", "/img/r1", "/img/r0"]);
    seen.length = 0;
    await assert.rejects(storage.get("r4", options), { name: "BadGateway", message: /3 times/ });
    assert.deepEqual(pathsOf(seen), ["/img/r4", "/img/r3", "/img/r2", "/img/r1"]);
  });
});

Deno.test("http storage refuses redirects that leave its base URL, decoded or not", async () => {
  await withOrigin(redirecting, async (origin, seen) => {
    const storage = await httpStorage({ baseUrl: `${origin}/img` });
    const paths = Array.from({ length: outside.length + 1 }, (_, n) => `o${n}`);
    for (const path of paths) await assert.rejects(storage.get(path, options), BadGateway, path);
    // Only the first request of each was sent: no target outside was ever asked for.
    assert.deepEqual(pathsOf(seen), paths.map((path) => `/img/${path}`));
  });
});

Deno.test("http storage follows a redirect that stays under its base URL decoded", async () => {
  await withOrigin(redirecting, async (origin, seen) => {
    const storage = await httpStorage({ baseUrl: `${origin}/img/` });
    const source = await storage.get("d0", options) as Source;
    assert.deepEqual(source.bytes, png);
    assert.deepEqual(pathsOf(seen), ["/img/d0", "/img/dir%2Fr0"]);
  });
});

Deno.test("http storage refuses the issue's redirect to /images/..%2fsecret.png", async () => {
  const origin: Handler = (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/images/a.png") {
      return new Response(null, { status: 302, headers: { location: "/images/..%2fsecret.png" } });
    }
    return new Response(png);
  };
  await withOrigin(origin, async (url, seen) => {
    const storage = await httpStorage({ baseUrl: `${url}/images/` });
    await assert.rejects(storage.get("a.png", options), {
      name: "BadGateway",
      message: "Upstream redirected outside its base URL",
    });
    assert.deepEqual(pathsOf(seen), ["/images/a.png"]);
  });
});

Deno.test("http storage revalidates with If-None-Match or If-Modified-Since", async () => {
  const lastModified = "Tue, 01 Oct 2024 10:00:00 GMT";
  const conditional: Handler = (request) => {
    const etag = new URL(request.url).pathname === "/etag";
    const validator: HeadersInit = etag ? { ETag: 'W/"v1"' } : { "Last-Modified": lastModified };
    const matches = etag
      ? request.headers.get("if-none-match") === 'W/"v1"'
      : request.headers.get("if-modified-since") === lastModified;
    return new Response(matches ? null : png, { status: matches ? 304 : 200, headers: validator });
  };
  await withOrigin(conditional, async (origin, seen) => {
    const storage = await httpStorage({ baseUrl: origin });
    for (const path of ["etag", "lm"]) {
      const first = await storage.get(path, options) as Source;
      assert.equal(
        await storage.get(path, { ...options, validator: first.validator }),
        "not-modified",
      );
    }
    assert.deepEqual(seen.map((r) => r.headers.get("if-none-match")), [null, 'W/"v1"', null, null]);
    assert.deepEqual(seen.map((r) => r.headers.get("if-modified-since")), [
      null,
      null,
      null,
      lastModified,
    ]);
  });
});

Deno.test("http storage without upstream validators revalidates by content", async () => {
  await withOrigin(() => new Response(png), async (origin) => {
    const storage = await httpStorage({ baseUrl: origin });
    const first = await storage.get("a", options) as Source;
    assert.match(first.validator, /^sha256:[0-9a-f]{64}$/);
    assert.equal(
      await storage.get("a", { ...options, validator: first.validator }),
      "not-modified",
    );
  });
});

Deno.test("http storage never requests outside its base path", async () => {
  await withOrigin(() => new Response("no", { status: 404 }), async (origin, seen) => {
    const storage = await httpStorage({ baseUrl: `${origin}/img/` });
    const attempts = [
      "../x",
      "a/../../etc",
      "./x",
      "%2e%2e/x",
      "a/%2E%2E/%2e%2e/x",
      "//evil/x",
      "a\\..\\..\\x",
    ];
    for (const path of attempts) await assert.rejects(storage.get(path, options), NotFound);
    assert.ok(seen.length > 0);
    for (const { url } of seen) assert.match(url.pathname, /^\/img\//);
  });
});

Deno.test("http storage rejects bad config keys", async () => {
  const bad: Record<string, unknown>[] = [
    {},
    { baseUrl: "ftp://example.com/" },
    { baseUrl: "http://example.com/?q=1" },
    { baseUrl: "http://example.com/", timeout: "soon" },
    { baseUrl: "http://example.com/", maxBytes: 0 },
    { baseUrl: "http://example.com/", headers: { "X-A": 1 } },
    { baseUrl: "http://example.com/", headers: { "bad header": "x" } },
    { baseUrl: "http://example.com/", basUrl: "typo" },
  ];
  for (const settings of bad) await assert.rejects(httpStorage(settings), ConfigError);
});

/** Bytes that compress well but are not all alike, so a decoding mix-up would show. */
function compressible(size: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: size }, (_, i) => (i >> 10) & 0xff);
}

Deno.test("http storage decodes gzip and br bodies and asks for nothing else", async () => {
  const plain = compressible(300_000);
  const encoded: Record<string, Uint8Array<ArrayBuffer>> = {
    "/gzip": new Uint8Array(gzipSync(plain)),
    "/br": new Uint8Array(brotliCompressSync(plain)),
  };
  const origin: Handler = (request) => {
    const coding = new URL(request.url).pathname;
    return new Response(encoded[coding], {
      // Content-Length is that of the encoded body: far less than the decoded size.
      headers: {
        "content-encoding": coding.slice(1),
        "content-length": `${encoded[coding].length}`,
      },
    });
  };
  await withOrigin(origin, async (url, seen) => {
    // A configured Accept-Encoding cannot turn off decoding: ours is always sent.
    const storage = await httpStorage({ baseUrl: url, headers: { "Accept-Encoding": "identity" } });
    for (const coding of ["gzip", "br"]) {
      assert.ok(encoded[`/${coding}`].length < 10_000);
      const source = await storage.get(coding, { maxBytes: plain.length }) as Source;
      assert.deepEqual(source.bytes, plain, coding);
      await assert.rejects(storage.get(coding, { maxBytes: plain.length - 1 }), TooLarge);
    }
    assert.deepEqual(
      new Set(seen.map((r) => r.headers.get("accept-encoding"))),
      new Set(["gzip, br"]),
    );
  });
});

Deno.test("http storage refuses a content coding it did not ask for", async () => {
  const plain = compressible(1000);
  const bodies: Record<string, Uint8Array<ArrayBuffer>> = {
    deflate: new Uint8Array(deflateSync(plain)),
    zstd: new Uint8Array([0x28, 0xb5, 0x2f, 0xfd]),
    compress: new Uint8Array([0x1f, 0x9d]),
    "gzip, gzip": new Uint8Array(gzipSync(gzipSync(plain))),
  };
  const origin: Handler = (request) => {
    const coding = decodeURIComponent(new URL(request.url).pathname.slice(1));
    return new Response(bodies[coding], { headers: { "content-encoding": coding } });
  };
  await withOrigin(origin, async (url) => {
    const storage = await httpStorage({ baseUrl: url });
    for (const coding of Object.keys(bodies)) {
      await assert.rejects(storage.get(coding, { maxBytes: 1_000_000 }), {
        name: "BadGateway",
        message: `Upstream sent Content-Encoding "${coding}": only gzip and br are accepted`,
      });
    }
  });
});

/**
 * A gzip body that decodes to `gib` GiB of zeros from about a thousandth of that: one MiB of
 * zeros compressed with a full flush (byte-aligned, history reset) decodes the same wherever
 * it stands, so it is repeated. The trailer is never reached by a reader that stops in time.
 */
function gzipBomb(gib: number): Uint8Array<ArrayBuffer> {
  const mib = deflateRawSync(new Uint8Array(1 << 20), { finishFlush: constants.Z_FULL_FLUSH });
  const header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
  const end = [3, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // an empty final block, then a dummy trailer
  const bomb = new Uint8Array(header.length + mib.length * gib * 1024 + end.length);
  bomb.set(header);
  for (let i = 0; i < gib * 1024; i++) bomb.set(mib, header.length + i * mib.length);
  bomb.set(end, bomb.length - end.length);
  return bomb;
}

Deno.test("http storage stops a gzip bomb at the byte limit without decoding the rest", async () => {
  const bomb = gzipBomb(2);
  assert.ok(bomb.length < 4 << 20, `${bomb.length} bytes`);
  await withOrigin(
    () => new Response(bomb, { headers: { "content-encoding": "gzip" } }),
    async (url) => {
      const storage = await httpStorage({ baseUrl: url });
      const before = Deno.memoryUsage().rss;
      await assert.rejects(storage.get("bomb", { maxBytes: 1 << 20 }), {
        name: "TooLarge",
        message: `Source exceeds ${1 << 20} bytes`,
      });
      // Decoding all of it would take 2 GiB; other tests in this process may use some too.
      const grown = Deno.memoryUsage().rss - before;
      assert.ok(grown < 512 << 20, `RSS grew by ${grown >> 20} MiB`);
    },
  );
});

Deno.test("http storage answers a buffer of the exact size, with or without Content-Length", async () => {
  const plain = compressible(700_000);
  const origin: Handler = (request) => {
    const chunked = new URL(request.url).pathname === "/chunked";
    // A stream of its own has no length; a byte array has its Content-Length.
    const body = chunked
      ? ReadableStream.from([plain.subarray(0, 1000), plain.subarray(1000)])
      : plain;
    return new Response(body);
  };
  await withOrigin(origin, async (url, seen) => {
    const storage = await httpStorage({ baseUrl: url });
    for (const path of ["length", "chunked"]) {
      const source = await storage.get(path, { maxBytes: plain.length }) as Source;
      assert.deepEqual(source.bytes, plain, path);
      assert.equal(source.bytes.buffer.byteLength, plain.length, `${path}: no spare capacity`);
    }
    assert.equal(seen.length, 2);
  });
});

Deno.test("http storage stops reading a body at once when the caller aborts", async () => {
  let cancelled = false;
  const trickle: Handler = () =>
    new Response(
      new ReadableStream({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          controller.enqueue(new Uint8Array(100));
        },
        cancel: () => {
          cancelled = true;
        },
      }),
    );
  await withOrigin(trickle, async (url) => {
    const storage = await httpStorage({ baseUrl: url, timeout: "1m" });
    const caller = new AbortController();
    const pending = storage.get("a", { maxBytes: 1 << 30, signal: caller.signal });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const start = performance.now();
    caller.abort();
    await assert.rejects(pending, (error: Error) => error.name === "AbortError");
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 1000, `took ${elapsed} ms after the abort`);
  });
  assert.ok(cancelled, "the origin's body was cancelled");
});

Deno.test("http storage reads concurrent large sources with one buffer each", async () => {
  // Sources of 40 MiB: larger than glibc's largest mmap threshold, so freed memory shows.
  const [count, mib] = [4, 40];
  const data = count * mib;
  for (const kind of ["length", "chunked"]) {
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL("./storage_memory_child.ts", import.meta.url).pathname,
        "read",
        `${count}`,
        `${mib}`,
        kind,
      ],
      stderr: "inherit",
    }).output();
    assert.equal(child.code, 0);
    const bursts: { peak: number; held: number }[] = JSON.parse(
      new TextDecoder().decode(child.stdout),
    );
    // Chunks kept until the end, then copied, held about 1.5 to 2 times the data (measured:
    // 207-258 MiB held for these 160 MiB); one buffer each holds the data (measured: 124-127).
    // The peak adds the transfer's own buffers (measured: 204-247 MiB, before 247-335).
    for (const { peak, held } of bursts) {
      assert.ok(held <= data * 1.1 + 24, `${kind}: ${held} MiB held for ${data} MiB of sources`);
      assert.ok(peak <= data * 1.5 + 64, `${kind}: ${peak} MiB at the peak for ${data} MiB`);
    }
    // Memory freed by one burst serves the next one: the second holds no more than the first,
    // within a quarter of one source (a burst kept would be 160 MiB more; the allocator's own
    // slack measured up to +25 MiB, 130 then 155). (Held, not peak: the peak is sampled every
    // 5 ms and can miss a burst's short-lived transfer buffers, which made a peak-to-peak
    // comparison fail once in CI at 170 vs 251.)
    const slack = mib / 4 + 24;
    assert.ok(bursts[1].held <= bursts[0].held + slack, `${kind}: ${JSON.stringify(bursts)}`);
  }
});
