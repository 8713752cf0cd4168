// http.cors: which origins may read our responses from scripts, on images, 304s and errors,
// and preflight OPTIONS answered instead of refused.
import assert from "node:assert/strict";
import { parseConfig } from "../lib/config/config.ts";
import { encode, photoLike, SharedServers, startTestServer, type TestServer } from "./helpers.ts";

const app = "https://app.example.com";

/** One server per config (its JSON), shared by the tests that ask for the same. */
const servers = new SharedServers(async (config) =>
  startTestServer({ "photo.jpg": await encode(photoLike(64, 48), "jpeg") }, JSON.parse(config))
);

async function withServer(config: Record<string, unknown>, fn: (s: TestServer) => Promise<void>) {
  await fn((await servers.get(JSON.stringify(config)))!);
}

async function headersOf(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return { status: response.status, headers: response.headers };
}

const expose = "ETag, X-Cache, X-Request-Id";

Deno.test('cors: http.cors accepts "*" or a list of origins and refuses anything else', () => {
  const read = (cors: unknown) => parseConfig({ http: { cors } }, "/").http.cors;
  assert.equal(read("*"), "*");
  assert.deepEqual(read([app, "http://127.0.0.1:8080"]), [app, "http://127.0.0.1:8080"]);
  assert.deepEqual(read(undefined), []);
  for (const bad of ["https://a.example.com/", "a.example.com", "*.example.com", "null"]) {
    assert.throws(() => read([bad]), /"http\.cors\[0\]" must be an origin/, bad);
  }
  for (const bad of ["https://a.example.com", true, 1, [1], [""], {}]) {
    assert.throws(() => read(bad), /"http\.cors" must be "\*" or a list of origins/);
  }
});

servers.test("cors: off by default: no CORS headers, OPTIONS is a 405", () =>
  withServer({}, async ({ url }) => {
    const image = await headersOf(`${url}/s,32x0/png/files/photo.jpg`, {
      headers: { origin: app },
    });
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("access-control-allow-origin"), null);
    const options = await headersOf(`${url}/s,32x0/png/files/photo.jpg`, {
      method: "OPTIONS",
      headers: { origin: app, "access-control-request-method": "GET" },
    });
    assert.equal(options.status, 405);
  }));

servers.test("cors: a listed origin is echoed on images, 304s and errors, with Vary: Origin", () =>
  withServer({ http: { cors: [app] } }, async ({ url }) => {
    const image = await headersOf(`${url}/s,32x0/auto/files/photo.jpg`, {
      headers: { origin: app },
    });
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("access-control-allow-origin"), app);
    assert.equal(image.headers.get("access-control-expose-headers"), expose);
    assert.equal(image.headers.get("vary"), "Accept, Origin");
    const etag = image.headers.get("etag")!;
    const notModified = await headersOf(`${url}/s,32x0/auto/files/photo.jpg`, {
      headers: { origin: app, "if-none-match": etag },
    });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get("access-control-allow-origin"), app);
    for (const [path, status] of [["/nope/png/files/photo.jpg", 400], ["/gs/png/files/x", 404]]) {
      const error = await headersOf(`${url}${path}`, { headers: { origin: app } });
      assert.equal(error.status, status);
      assert.equal(error.headers.get("access-control-allow-origin"), app);
      assert.equal(error.headers.get("vary"), "Origin");
    }
  }));

servers.test("cors: an unlisted or missing origin gets no Allow-Origin, but still Vary: Origin", () =>
  withServer({ http: { cors: [app] } }, async ({ url }) => {
    for (const origin of ["https://evil.example.com", `${app}.evil.com`, "null", undefined]) {
      const { status, headers } = await headersOf(`${url}/s,32x0/png/files/photo.jpg`, {
        headers: origin ? { origin } : {},
      });
      assert.equal(status, 200);
      assert.equal(headers.get("access-control-allow-origin"), null, origin);
      assert.equal(headers.get("access-control-expose-headers"), null);
      assert.equal(headers.get("vary"), "Origin");
    }
  }));

servers.test('cors: "*" allows every origin without Vary: Origin', () =>
  withServer({ http: { cors: "*" } }, async ({ url }) => {
    const { headers } = await headersOf(`${url}/s,32x0/png/files/photo.jpg`, {
      headers: { origin: "https://anyone.example" },
    });
    assert.equal(headers.get("access-control-allow-origin"), "*");
    assert.equal(headers.get("access-control-expose-headers"), expose);
    assert.equal(headers.get("vary"), null);
  }));

servers.test("cors: a preflight gets 204 with the methods and headers, Authorization with a token", async () => {
  const preflight = { origin: app, "access-control-request-method": "GET" };
  await withServer({ http: { cors: [app] } }, async ({ url }) => {
    const { status, headers } = await headersOf(`${url}/s,32x0/png/files/photo.jpg`, {
      method: "OPTIONS",
      headers: preflight,
    });
    assert.equal(status, 204);
    assert.equal(headers.get("access-control-allow-origin"), app);
    assert.equal(headers.get("access-control-allow-methods"), "GET, HEAD");
    assert.ok(headers.get("x-request-id"), "a preflight carries its request id too");
    // Said once: a cache keys the answer by the origin.
    assert.equal(headers.get("vary"), "Origin");
    assert.equal(
      headers.get("access-control-allow-headers"),
      "X-Request-Id, If-None-Match, If-Modified-Since",
    );
    // An OPTIONS that is not a preflight is still refused.
    const plain = await headersOf(`${url}/s,32x0/png/files/photo.jpg`, { method: "OPTIONS" });
    assert.equal(plain.status, 405);
  });
  await withServer({ http: { cors: "*" }, security: { token: "t0ken" } }, async ({ url }) => {
    // The preflight itself carries no credentials, so it must pass without the token.
    const { status, headers } = await headersOf(`${url}/s,32x0/png/files/photo.jpg`, {
      method: "OPTIONS",
      headers: { ...preflight, "access-control-request-headers": "authorization" },
    });
    assert.equal(status, 204);
    assert.equal(headers.get("access-control-allow-origin"), "*");
    assert.equal(
      headers.get("access-control-allow-headers"),
      "Authorization, X-Request-Id, If-None-Match, If-Modified-Since",
    );
    const refused = await headersOf(`${url}/s,32x0/png/files/photo.jpg`, {
      headers: { origin: app },
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("access-control-allow-origin"), "*");
  });
});

servers.stopAfterTests("cors: (the servers the tests above shared stop)");
