import assert from "node:assert/strict";
import { ConfigError } from "../lib/config/config.ts";
import { ConfigReader } from "../lib/config/reader.ts";
import { Forbidden, GatewayTimeout, NotFound, TooLarge } from "../lib/errors.ts";
import { createS3Storage } from "../storages/s3.ts";
import type { Source, Storage } from "../storages/storage.ts";
import { expectOk, s3Credentials as credentials, startS3 } from "./s3rver.ts";

const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 4, 5, 6]);
const options = { maxBytes: 1024 };

/**
 * Runs s3rver in-process on a free loopback port, over a temporary directory, with bucket
 * "photos" holding `objects`; stops it and removes the directory afterwards.
 */
async function withS3(
  objects: Record<string, Uint8Array<ArrayBuffer>>,
  run: (endpoint: string) => Promise<void>,
): Promise<void> {
  const s3 = await startS3(["photos"]);
  try {
    for (const [key, body] of Object.entries(objects)) {
      await expectOk(s3.client.fetch(s3.objectUrl("photos", key), { method: "PUT", body }));
    }
    await run(s3.endpoint);
  } finally {
    await s3.close();
  }
}

function s3Storage(settings: Record<string, unknown>): Promise<Storage> {
  const reader = ConfigReader.of({ name: "x", type: "s3", ...settings }, "storages[0]");
  return createS3Storage({ name: reader.string("name"), type: reader.string("type"), reader }, ".");
}

Deno.test("s3 storage fetches an object under its prefix and revalidates by ETag", async () => {
  await withS3(
    { "library/2024/cat 1.png": png, "cat 1.png": new Uint8Array(3) },
    async (endpoint) => {
      const storage = await s3Storage({
        ...credentials,
        endpoint,
        bucket: "photos",
        prefix: "/library/2024/",
      });
      const source = await storage.get("cat 1.png", options) as Source;
      assert.deepEqual(source.bytes, png);
      assert.match(source.validator, /^"[0-9a-f]{32}"$/);
      assert.ok(source.modified instanceof Date);
      const again = await storage.get("cat 1.png", { ...options, validator: source.validator });
      assert.equal(again, "not-modified");
    },
  );
});

Deno.test("s3 storage maps NoSuchKey to NotFound and an unknown key id to Forbidden", async () => {
  await withS3({ "a.png": png }, async (endpoint) => {
    const storage = await s3Storage({ ...credentials, endpoint, bucket: "photos" });
    await assert.rejects(storage.get("missing.png", options), {
      name: "NotFound",
      message: /NoSuchKey/,
    });
    // s3rver checks that the key id exists but not V4 signatures: see the fake below.
    const stranger = await s3Storage({
      ...credentials,
      endpoint,
      bucket: "photos",
      accessKeyId: "NOBODY",
    });
    await assert.rejects(stranger.get("a.png", options), Forbidden);
  });
});

Deno.test("s3 storage refuses an object over the byte cap", async () => {
  await withS3({ "big.png": new Uint8Array(5000) }, async (endpoint) => {
    const storage = await s3Storage({ ...credentials, endpoint, bucket: "photos" });
    await assert.rejects(storage.get("big.png", options), TooLarge);
  });
});

/** What the fake was asked, and how the request was signed. */
interface Seen {
  path: string;
  authorization: string | null;
}

/** An S3 fake that records each request and denies access; "/slow" waits for the end. */
async function withDenyingFake(run: (endpoint: string, seen: Seen[]) => Promise<void>) {
  const seen: Seen[] = [];
  const release = Promise.withResolvers<void>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (request) => {
    const url = new URL(request.url);
    seen.push({ path: url.pathname, authorization: request.headers.get("authorization") });
    if (url.pathname.endsWith("/slow")) await release.promise;
    const xml = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
    return new Response(xml, { status: 403, headers: { "Content-Type": "application/xml" } });
  });
  try {
    await run(`http://127.0.0.1:${server.addr.port}/`, seen);
  } finally {
    release.resolve();
    await server.shutdown();
  }
}

Deno.test("s3 storage signs with V4, path-style, and maps AccessDenied to Forbidden", async () => {
  await withDenyingFake(async (endpoint, seen) => {
    const storage = await s3Storage({
      endpoint,
      bucket: "photos",
      region: "eu-west-1",
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "secret",
      prefix: "p",
    });
    await assert.rejects(storage.get("a b/c.png", options), {
      name: "Forbidden",
      message: /AccessDenied/,
    });
    assert.equal(seen[0].path, "/photos/p/a%20b/c.png");
    assert.match(
      seen[0].authorization ?? "",
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
  });
});

Deno.test("s3 storage answers GatewayTimeout when S3 is slow", async () => {
  await withDenyingFake(async (endpoint) => {
    const storage = await s3Storage({
      ...credentials,
      endpoint,
      bucket: "photos",
      timeout: "200ms",
    });
    await assert.rejects(storage.get("slow", options), GatewayTimeout);
  });
});

Deno.test("s3 storage rejects bad config keys", async () => {
  const bad: Record<string, unknown>[] = [
    { ...credentials },
    { ...credentials, bucket: "Bad_Bucket" },
    { ...credentials, bucket: "evil.com/x" },
    { ...credentials, bucket: "photos", region: "us east" },
    { ...credentials, bucket: "photos", endpoint: "file:///tmp" },
    { ...credentials, bucket: "photos", timeout: "10" },
    { bucket: "photos" },
    { ...credentials, bucket: "photos", bukket: "typo" },
  ];
  for (const settings of bad) await assert.rejects(s3Storage(settings), ConfigError);
});

Deno.test("s3 storage refuses dot segments before asking S3", async () => {
  await withDenyingFake(async (endpoint, seen) => {
    const storage = await s3Storage({ ...credentials, endpoint, bucket: "photos" });
    await assert.rejects(storage.get("../other/x", options), NotFound);
    assert.deepEqual(seen, []);
  });
});
