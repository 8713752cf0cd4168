import assert from "node:assert/strict";
import { BadRequest } from "../lib/errors.ts";
import { type JobContext, parseChain, parseFormat, parseJob, parsePath } from "../lib/jobs/url.ts";

const context: JobContext = {
  presets: new Map([["small", [{ name: "s", params: { width: 100, height: 0, mode: "exact" } }]]]),
  defaultQuality: 75,
  avifQuality: 50,
  maxChain: 16,
  maxBlurSigma: 50,
};

function rejects(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (error) => error instanceof BadRequest && pattern.test(error.message));
}

Deno.test("parseChain() reads gs as one token and every other filter as two", () => {
  const chain = parseChain("s,200x0,gs,r,90,f,h,b,1.5,c,1x2-30x40", context);
  assert.deepEqual(chain.map((s) => s.name), ["s", "gs", "r", "f", "b", "c"]);
  assert.deepEqual(chain[0].params, { width: 200, height: 0, mode: "exact" });
  assert.equal(chain[2].params, 90);
  assert.equal(chain[3].params, "h");
  assert.equal(chain[4].params, 1.5);
  assert.deepEqual(chain[5].params, { x: 1, y: 2, width: 30, height: 40 });
});

Deno.test("parseChain() expands a preset anywhere in the chain", () => {
  const chain = parseChain("gs,small,f,v", context);
  assert.deepEqual(chain.map((s) => s.name), ["gs", "s", "f"]);
  assert.deepEqual(chain[1].params, { width: 100, height: 0, mode: "exact" });
});

Deno.test("parseChain() reads the resize modifiers", () => {
  assert.equal((parseChain("s,10x20+", context)[0].params as { mode: string }).mode, "fit");
  assert.equal((parseChain("s,10x20-", context)[0].params as { mode: string }).mode, "fill");
  assert.equal((parseChain("s,10x20", context)[0].params as { mode: string }).mode, "exact");
});

Deno.test("parseChain() rejects the original's crash cases and bad arguments", () => {
  rejects(() => parseChain("s,", context), /stray comma|Missing argument/);
  rejects(() => parseChain("s", context), /Missing argument for filter "s"/);
  rejects(() => parseChain("b,NaN", context), /blur "NaN"/);
  rejects(() => parseChain("b,Infinity", context), /blur "Infinity"/);
  rejects(() => parseChain("b,-1", context), /blur "-1"/);
  rejects(() => parseChain("b,51", context), /from 0 to 50/);
  rejects(() => parseChain("s,0x0", context), /resize "0x0"/);
  rejects(() => parseChain("s,10xx", context), /resize "10xx"/);
  rejects(() => parseChain("s,10x10*", context), /resize/);
  rejects(() => parseChain("s,999999999x1", context), /resize/);
  rejects(() => parseChain("r,45", context), /rotate "45"/);
  rejects(() => parseChain("f,x", context), /flip "x"/);
  rejects(() => parseChain("c,1x1-0x5", context), /crop "1x1-0x5"/);
  rejects(() => parseChain("c,1x1", context), /crop/);
  rejects(() => parseChain("zz,1", context), /Unknown filter "zz"/);
  rejects(() => parseChain("gs,", context), /stray comma/);
  rejects(() => parseChain(",gs", context), /stray comma/);
  rejects(() => parseChain("", context), /stray comma/);
});

Deno.test("parseChain() refuses chains longer than maxChain", () => {
  rejects(() => parseChain(Array(17).fill("gs").join(","), context), /at most 16/);
  assert.equal(parseChain(Array(16).fill("gs").join(","), context).length, 16);
});

Deno.test("parseFormat() reads png, jpeg, the jpg alias and a quality", () => {
  assert.deepEqual(parseFormat("png", 75), { type: "png", quality: 75 });
  assert.deepEqual(parseFormat("jpeg", 75), { type: "jpeg", quality: 75 });
  assert.deepEqual(parseFormat("jpg,90", 75), { type: "jpeg", quality: 90 });
  assert.deepEqual(parseFormat("jpeg,1", 75), { type: "jpeg", quality: 1 });
  assert.deepEqual(parseFormat("jpeg,100", 75), { type: "jpeg", quality: 100 });
  assert.deepEqual(parseFormat("webp", 75), { type: "webp", quality: 75 });
  assert.deepEqual(parseFormat("webp,40", 75), { type: "webp", quality: 40 });
  assert.deepEqual(parseFormat("webp,lossless", 75), { type: "webp", quality: 75, lossless: true });
  assert.deepEqual(parseFormat("auto,60", 75), { type: "auto", quality: 60 });
});

Deno.test("parseFormat() rejects unknown formats and qualities outside 1..100", () => {
  rejects(() => parseFormat("bmp", 75), /Unknown format "bmp"/);
  rejects(() => parseFormat("jpeg,0", 75), /quality/);
  rejects(() => parseFormat("jpeg,101", 75), /quality/);
  rejects(() => parseFormat("jpeg,", 75), /quality/);
  rejects(() => parseFormat("jpeg,8.5", 75), /quality/);
  rejects(() => parseFormat("jpeg,80,1", 75), /quality/);
  rejects(() => parseFormat("png,80", 75), /takes no quality/);
  rejects(() => parseFormat("jpeg,lossless", 75), /quality/);
  rejects(() => parseFormat("webp,lossless,1", 75), /quality/);
});

Deno.test("parsePath() decodes segments and refuses ways out of the storage", () => {
  assert.equal(parsePath(["a b", "c%20d.jpg"]), "a b/c d.jpg");
  rejects(() => parsePath([]), /Missing image path/);
  rejects(() => parsePath(["a", "", "b"]), /Bad path segment/);
  rejects(() => parsePath([".."]), /Bad path segment/);
  rejects(() => parsePath(["%2e%2e", "x"]), /Bad path segment/);
  rejects(() => parsePath(["."]), /Bad path segment/);
  rejects(() => parsePath(["a%2Fb"]), /Bad path segment/);
  rejects(() => parsePath(["a%5Cb"]), /Bad path segment/);
  rejects(() => parsePath(["a\\b"]), /Bad path segment/);
  rejects(() => parsePath(["a%00"]), /Bad path segment/);
  rejects(() => parsePath(["%E0%A4%A"]), /Cannot decode/);
});

Deno.test("parseJob() splits chain, format, storage and path", () => {
  const job = parseJob("/small,gs/jpg,80/photos/2024/cat.jpg", context);
  assert.deepEqual(job.chain.map((s) => s.name), ["s", "gs"]);
  assert.deepEqual(job.format, { type: "jpeg", quality: 80 });
  assert.equal(job.storage, "photos");
  assert.equal(job.path, "2024/cat.jpg");
});

Deno.test("parseJob() treats a space in the chain as the + modifier", () => {
  const job = parseJob("/s,10x10%20/png/photos/cat.jpg", context);
  assert.equal((job.chain[0].params as { mode: string }).mode, "fit");
});

Deno.test("parseJob() rejects URLs with missing parts", () => {
  rejects(() => parseJob("/gs/png/photos", context), /Missing image path/);
  rejects(() => parseJob("/gs/png", context), /Expected/);
  rejects(() => parseJob("/gs/png//x.jpg", context), /Expected/);
  rejects(() => parseJob("/gs/png/photos/a/../b.jpg", context), /Bad path segment/);
});

Deno.test("parseJob() reads the chain none as no filter, and refuses none among filters", () => {
  const job = parseJob("/none/webp/photos/cat.jpg", context);
  assert.deepEqual(job.chain, []);
  assert.equal(job.format.type, "webp");
  for (const chain of ["none,gs", "gs,none", "none,none", "s,none", "NONE"]) {
    rejects(() => parseChain(chain, context), /none|NONE/);
  }
  rejects(() => parseChain("none,gs", context), /stands alone/);
});
