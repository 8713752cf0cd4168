import assert from "node:assert/strict";
import { isNotModified } from "../lib/http/conditional.ts";

const etag = '"abc"';
const modified = new Date("2024-10-01T10:00:00.500Z");
const now = Date.parse("2026-01-01T00:00:00Z");

function since(date: Date | string): Request {
  const value = typeof date === "string" ? date : date.toUTCString();
  return new Request("http://x/", { headers: { "if-modified-since": value } });
}

Deno.test("isNotModified() compares If-Modified-Since in whole seconds", () => {
  assert.equal(isNotModified(since(modified), etag, modified, now), true);
  assert.equal(
    isNotModified(since(new Date(modified.getTime() - 1000)), etag, modified, now),
    false,
  );
  assert.equal(isNotModified(since("not a date"), etag, modified, now), false);
  assert.equal(isNotModified(since(modified), etag, undefined, now), false);
});

Deno.test("isNotModified() ignores an If-Modified-Since later than now", () => {
  assert.equal(isNotModified(since(new Date(now)), etag, modified, now), true, "now itself");
  for (
    const future of [
      new Date(now + 1000),
      new Date(now + 86_400_000),
      "Fri, 01 Jan 2100 00:00:00 GMT",
    ]
  ) {
    assert.equal(isNotModified(since(future), etag, modified, now), false, String(future));
  }
  // Without a clock given, the real one decides: the year 2100 is still ahead.
  assert.equal(isNotModified(since("Fri, 01 Jan 2100 00:00:00 GMT"), etag, modified), false);
});

Deno.test("isNotModified() lets If-None-Match decide alone when present", () => {
  const headers = {
    "if-none-match": `W/${etag}`,
    "if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT",
  };
  assert.equal(isNotModified(new Request("http://x/", { headers }), etag, modified, now), true);
  const other = {
    ...headers,
    "if-none-match": '"other"',
    "if-modified-since": modified.toUTCString(),
  };
  assert.equal(
    isNotModified(new Request("http://x/", { headers: other }), etag, modified, now),
    false,
  );
});
