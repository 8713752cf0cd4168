import assert from "node:assert/strict";
import { ConfigError } from "../lib/config/reader.ts";
import { substituteEnv } from "../lib/config/env.ts";

const vars: Record<string, string> = { HOST: "example.com", PORT: "8080", EMPTY: "" };
const env = (name: string) => vars[name];

Deno.test("substituteEnv() replaces a set variable", () => {
  assert.equal(substituteEnv("http://${HOST}:${PORT}/", env), "http://example.com:8080/");
});

Deno.test("substituteEnv() uses the default when the variable is unset", () => {
  assert.equal(substituteEnv("${REGION:-eu-west-1}", env), "eu-west-1");
});

Deno.test("substituteEnv() ignores the default when the variable is set", () => {
  assert.equal(substituteEnv("${HOST:-localhost}", env), "example.com");
});

Deno.test("substituteEnv() uses the default when the variable is empty", () => {
  assert.equal(substituteEnv("${EMPTY:-fallback}", env), "fallback");
  assert.equal(substituteEnv("[${EMPTY}]", env), "[]");
});

Deno.test("substituteEnv() accepts an empty default", () => {
  assert.equal(substituteEnv("[${PREFIX:-}]", env), "[]");
});

Deno.test("substituteEnv() leaves text that is not a reference alone", () => {
  assert.equal(substituteEnv("$HOST ${1X} ${HOST", env), "$HOST ${1X} ${HOST");
});

Deno.test("substituteEnv() names the variable and the key when a variable is missing", () => {
  const config = { storages: [{ type: "local" }, { type: "s3", secretAccessKey: "${S3_SECRET}" }] };
  assert.throws(
    () => substituteEnv(config, env),
    (error) =>
      error instanceof ConfigError &&
      error.message ===
        'Environment variable "S3_SECRET" used by "storages[1].secretAccessKey" is not set',
  );
});

Deno.test("substituteEnv() walks nested arrays and objects", () => {
  const config = { http: { hosts: ["${HOST}", ["${PORT}"]] }, list: [{ a: "${HOST}" }] };
  assert.deepEqual(substituteEnv(config, env), {
    http: { hosts: ["example.com", ["8080"]] },
    list: [{ a: "example.com" }],
  });
});

Deno.test("substituteEnv() leaves keys and non-string values untouched", () => {
  const config = { "${HOST}": 1, port: 8080, debug: true, none: null, ratio: 1.5 };
  assert.deepEqual(substituteEnv(config, env), config);
});

Deno.test("substituteEnv() does not mutate its input", () => {
  const config = { http: { host: "${HOST}" }, list: ["${PORT}"] };
  const copy = structuredClone(config);
  const result = substituteEnv(config, env);
  assert.deepEqual(config, copy);
  assert.notEqual(result, config);
});
