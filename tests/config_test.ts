import assert from "node:assert/strict";
import {
  ConfigError,
  maxPixelLimit,
  maxSourceByteLimit,
  parseConfig,
} from "../lib/config/config.ts";
import { createStorages } from "../storages/mod.ts";

function parse(raw: Record<string, unknown>) {
  return parseConfig(raw, "/tmp");
}

function refused(raw: Record<string, unknown>, message: RegExp) {
  assert.throws(
    () => parse(raw),
    (error) => error instanceof ConfigError && message.test(error.message),
  );
}

// For each duration key of "http": its bound, the bound plus 1 ms.
const durationKeys = [
  { key: "timeout", field: "timeoutMs", bound: "1h", ms: 3_600_000, over: "1h1ms" },
  {
    key: "shutdownTimeout",
    field: "shutdownTimeoutMs",
    bound: "10m",
    ms: 600_000,
    over: "600001ms",
  },
] as const;

Deno.test("config: durations are bounded from 1ms to their maximum", () => {
  for (const { key, field, bound, ms, over } of durationKeys) {
    const read = (value: string) => parse({ http: { [key]: value } }).http[field];
    assert.equal(read("1ms"), 1);
    assert.equal(read(bound), ms);
    assert.equal(read(`${ms}ms`), ms);
    for (
      const bad of ["0s", "0ms", "0.5ms", over, "600h", "99999999999999999999h", "1e9s", "-1s"]
    ) {
      refused(
        { http: { [key]: bad } },
        new RegExp(`^"http\\.${key}" must be a duration from 1ms to ${bound}, .*, not "${bad}"$`),
      );
    }
  }
  // The message quotes the bad value and names the allowed form.
  refused(
    { http: { timeout: "600h" } },
    /^"http\.timeout" must be a duration from 1ms to 1h, like "500ms", "30s" or "1m", not "600h"$/,
  );
});

Deno.test("config: every storage timeout is bounded to an hour", async () => {
  const storage = (type: string, timeout: string) => ({
    name: "s",
    type,
    timeout,
    ...(type === "http"
      ? { baseUrl: "http://127.0.0.1/" }
      : { bucket: "media", accessKeyId: "a", secretAccessKey: "b" }),
  });
  for (const type of ["http", "s3"]) {
    for (const good of ["1ms", "1h"]) {
      const config = parse({ storages: [storage(type, good)] });
      assert.equal((await createStorages(config.storages, "/tmp")).size, 1);
    }
    for (const bad of ["0s", "1h1ms", "600h"]) {
      const config = parse({ storages: [storage(type, bad)] });
      await assert.rejects(createStorages(config.storages, "/tmp"), {
        name: "ConfigError",
        message: /^"storages\[0\]\.timeout" must be a duration from 1ms to 1h/,
      });
    }
  }
});

Deno.test("config: byte and pixel limits are bounded where buffers could not hold them", () => {
  const limits = [
    { key: "maxSourceBytes", max: maxSourceByteLimit },
    { key: "maxSourcePixels", max: maxPixelLimit },
    { key: "maxOutputPixels", max: maxPixelLimit },
  ];
  for (const { key, max } of limits) {
    assert.equal(parse({ image: { [key]: 1 } }).image[key as "maxSourceBytes"], 1);
    assert.equal(parse({ image: { [key]: max } }).image[key as "maxSourceBytes"], max);
    for (const bad of [0, max + 1, 2 ** 31, 2 ** 53, 1e300, 1.5]) {
      refused(
        { image: { [key]: bad } },
        new RegExp(`^"image\\.${key}" must be an integer from 1 to ${max}$`),
      );
    }
  }
  // A storage's own cap has the same bound.
  const storages = [{
    name: "s",
    type: "http",
    baseUrl: "http://127.0.0.1/",
    maxBytes: maxSourceByteLimit + 1,
  }];
  return assert.rejects(createStorages(parse({ storages }).storages, "/tmp"), ConfigError);
});

Deno.test("config: the other numeric keys refuse 0 or values past their range", () => {
  const bad: Record<string, unknown>[] = [
    { http: { port: 65536 } },
    { http: { port: -1 } },
    { http: { workers: 0 } },
    { http: { workers: 257 } },
    { http: { queue: -1 } },
    { http: { metricsPort: 2 ** 16 } },
    { image: { quality: 0 } },
    { image: { quality: 101 } },
    { image: { maxChain: 0 } },
    { image: { maxBlurSigma: 1001 } },
    { caches: { source: -2 } },
    { caches: { sourceBytes: 2 ** 53 } },
    { caches: { result: -1 } },
  ];
  for (const raw of bad) assert.throws(() => parse(raw), ConfigError, JSON.stringify(raw));
});

Deno.test("config: the default worker count follows the CPU count within its bound", () => {
  const cpus = Object.getOwnPropertyDescriptor(Navigator.prototype, "hardwareConcurrency")!;
  try {
    // One per core on pure and imagemagick; one more on vips and graphicsmagick, where it served
    // more under saturation.
    const expected: [number, number, number][] = [
      [1, 1, 2],
      [2, 2, 3],
      [8, 8, 9],
      [255, 255, 256],
      [256, 256, 256],
      [512, 256, 256],
    ];
    for (const [count, perCore, oneMore] of expected) {
      Object.defineProperty(navigator, "hardwareConcurrency", { value: count, configurable: true });
      assert.equal(parse({}).http.workers, perCore);
      assert.equal(parse({}).http.queue, 8 * perCore);
      for (const [backend, workers] of [["pure", perCore], ["imagemagick", perCore]] as const) {
        assert.equal(parse({ backend }).http.workers, workers, `${backend} on ${count} cores`);
      }
      for (const backend of ["vips", "graphicsmagick"]) {
        assert.equal(parse({ backend }).http.workers, oneMore, `${backend} on ${count} cores`);
        assert.equal(parse({ backend }).http.queue, 8 * oneMore);
        assert.equal(parse({ backend, http: { workers: 2 } }).http.workers, 2);
      }
    }
  } finally {
    delete (navigator as { hardwareConcurrency?: number }).hardwareConcurrency;
    assert.deepEqual(
      Object.getOwnPropertyDescriptor(Navigator.prototype, "hardwareConcurrency"),
      cpus,
    );
  }
});

Deno.test("config: with a token, Cache-Control defaults to private", () => {
  assert.equal(parse({}).http.cacheControl, "public, max-age=86400");
  assert.deepEqual(parse({}).warnings, []);
  const withToken = parse({ security: { token: "s3cret" } });
  assert.equal(withToken.http.cacheControl, "private, max-age=86400");
  assert.deepEqual(withToken.warnings, []);
  // An explicit value stays as given; a shared-cache policy behind a token is warned about.
  const explicit = parse({
    security: { token: "s3cret" },
    http: { cacheControl: "public, max-age=60" },
  });
  assert.equal(explicit.http.cacheControl, "public, max-age=60");
  assert.equal(explicit.warnings.length, 1);
  assert.match(
    explicit.warnings[0],
    /"http\.cacheControl" is "public, max-age=60" while "security\.token" is set/,
  );
  assert.doesNotMatch(explicit.warnings[0], /s3cret/);
  const privateOnly = parse({ security: { token: "s3cret" }, http: { cacheControl: "no-store" } });
  assert.deepEqual(privateOnly.warnings, []);
});
