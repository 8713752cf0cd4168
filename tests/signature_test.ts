import assert from "node:assert/strict";
import { parseSigningKey, signPath, verifyPath } from "../lib/jobs/signature.ts";
import { alternateSpellings } from "./helpers.ts";

const key = parseSigningKey("736563726574", "68656c6c6f");
const other = parseSigningKey("6f74686572", "73616c74");
const path = "/rs:fill:300:400:0/g:sm/aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/cy9jdXJpb3NpdHku/anBn.png";
const vector = "oKfUtW34Dvo2BGQehJFR4Nr0_rIjOtdtzJ3QFsUcXH8";

Deno.test("signPath() matches the imgproxy reference vector", async () => {
  assert.equal(await signPath(key, path), vector);
});

Deno.test("signPath() gives the same signature on repeated calls", async () => {
  assert.equal(await signPath(key, path), await signPath(key, path));
});

Deno.test("verifyPath() accepts what signPath() produced", async () => {
  const signature = await signPath(key, "/s,300x200-/webp,80/photos/cat.jpg");
  assert.equal(await verifyPath([key], signature, "/s,300x200-/webp,80/photos/cat.jpg"), true);
});

Deno.test("verifyPath() rejects a path with one character changed", async () => {
  const changed = path.replace("300", "301");
  assert.equal(await verifyPath([key], vector, changed), false);
});

Deno.test("verifyPath() rejects a signature with one character changed", async () => {
  const changed = (vector[0] === "A" ? "B" : "A") + vector.slice(1);
  assert.equal(await verifyPath([key], changed, path), false);
});

Deno.test("verifyPath() accepts a signature from the second key", async () => {
  const signature = await signPath(other, path);
  assert.equal(await verifyPath([key, other], signature, path), true);
  assert.equal(await verifyPath([key], signature, path), false);
});

Deno.test("verifyPath() rejects everything when there are no keys", async () => {
  assert.equal(await verifyPath([], vector, path), false);
});

Deno.test("verifyPath() returns false for malformed signatures without throwing", async () => {
  for (
    const signature of [
      "",
      "garbage",
      vector.slice(0, -1),
      vector + "A",
      vector + "=",
      vector.replace("_", "/"),
      vector.replace("_", "!"),
      " ".repeat(43),
    ]
  ) {
    assert.equal(await verifyPath([key], signature, path), false, signature);
  }
});

Deno.test("verifyPath() accepts only the canonical spelling of a signature", async () => {
  const spellings = alternateSpellings(vector);
  assert.equal(spellings.length, 5);
  assert.equal(new Set([vector, ...spellings]).size, 6);
  for (const signature of spellings) {
    // Each spelling carries the right MAC for a lenient decoder.
    const loose = signature.replace(/=$/, "").replaceAll("+", "-").replaceAll("/", "_");
    assert.deepEqual(
      Uint8Array.fromBase64(loose, { alphabet: "base64url" }),
      Uint8Array.fromBase64(vector, { alphabet: "base64url" }),
    );
    assert.equal(await verifyPath([key], signature, path), false, signature);
  }
  assert.equal(await verifyPath([key], vector, path), true);
});

Deno.test("parseSigningKey() decodes upper- and lower-case hex", () => {
  const parsed = parseSigningKey("0aFF", "00");
  assert.deepEqual([...parsed.key], [10, 255]);
  assert.deepEqual([...parsed.salt], [0]);
});

Deno.test("parseSigningKey() rejects bad or empty hex without echoing it", () => {
  const cases = [["zzzz", "00", "key", "zzzz"], ["00", "abc", "salt", "abc"], [
    "",
    "00",
    "key",
    "",
  ]];
  for (const [keyHex, saltHex, what, bad] of cases) {
    assert.throws(
      () => parseSigningKey(keyHex, saltHex),
      (error) =>
        error instanceof Error && error.message.startsWith(`Signing ${what} must be`) &&
        (bad === "" || !error.message.includes(bad)),
    );
  }
});
