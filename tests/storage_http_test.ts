import assert from "node:assert/strict";
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

/** `/img/rN` redirects to `/img/r(N-1)` and `/img/r0` is the file; `/img/oN` to `outside[N]`. */
function redirecting(request: Request): Response {
  const url = new URL(request.url);
  const outside = [
    `http://localhost:${url.port}/img/r0`, // another origin, though the same server
    "/other/r0",
    "/img/../other/r0",
    "/img/%2e%2e/other/r0",
    "//example.com/img/r0",
  ];
  const [, kind, n] = /^\/img\/([ro])(\d+)$/.exec(url.pathname) ?? [];
  if (kind === "r" && n === "0") return new Response(png);
  const location = kind === "r" ? `r${Number(n) - 1}` : outside[Number(n)];
  // Past the list: a redirect without a location.
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

Deno.test("http storage refuses redirects that leave its base URL", async () => {
  await withOrigin(redirecting, async (origin, seen) => {
    const storage = await httpStorage({ baseUrl: `${origin}/img` });
    for (let n = 0; n < 6; n++) {
      await assert.rejects(storage.get(`o${n}`, options), BadGateway);
    }
    assert.deepEqual(pathsOf(seen), [
      "/img/o0",
      "/img/o1",
      "/img/o2",
      "/img/o3",
      "/img/o4",
      "/img/o5",
    ]);
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
