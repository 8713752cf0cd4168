// `image.shrinkOnLoad`: "fast" decodes a JPEG as small as the target allows, "quality" keeps a
// margin above it; every backend honours it, and it is part of the result's identity.
import assert from "node:assert/strict";
import sharp from "sharp";
import { ConfigError, parseConfig } from "../lib/config/config.ts";
import type { Backend, ShrinkOnLoad } from "../lib/image/backend.ts";
import { resultIdentity } from "../lib/jobs/identity.ts";
import { taskFor } from "../lib/jobs/task.ts";
import { runTransform } from "../lib/jobs/transform.ts";
import { parseChain } from "../lib/jobs/url.ts";
import { openBackend } from "../lib/pool/backends.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { aliasing, decode, zonePlate } from "./helpers.ts";

const image = parseConfig({ storages: [] }, ".").image;
const side = 2048;
const target = 300;
/** Measured: fast 3.0 (pure) and 4.6, quality 0.6–1.2 (0 is clean). */
const AT_LEAST = 1.5;
// A zone plate: read at 1/4 scale (512 px, `fast` on every backend: the pure one keeps 1.5×)
// the resize leaves more aliasing than read at twice the target or more (`quality`).
const plate = new Uint8Array(
  await sharp(zonePlate(side, side), { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 95, chromaSubsampling: "4:4:4" }).toBuffer(),
);
const chain = parseChain(`s,${target}x${target}`, {
  presets: new Map(),
  maxBlurSigma: 50,
  maxChain: 16,
  defaultQuality: 80,
  avifQuality: 50,
});
const job = { chain, format: { type: "png" as const, quality: 80 }, storage: "files", path: "a" };

/** The whole task, as a request makes it, under `policy`. */
function task(policy: ShrinkOnLoad) {
  return taskFor(job, null, { ...image, autoOrient: false, shrinkOnLoad: policy });
}

Deno.test("shrinkOnLoad: defaults to fast; anything but fast or quality is a config error", () => {
  assert.equal(image.shrinkOnLoad, "fast");
  const quality = parseConfig({ storages: [], image: { shrinkOnLoad: "quality" } }, ".");
  assert.equal(quality.image.shrinkOnLoad, "quality");
  for (const bad of ["best", "", "FAST", 1, true]) {
    assert.throws(
      () => parseConfig({ storages: [], image: { shrinkOnLoad: bad } }, "."),
      ConfigError,
      String(bad),
    );
  }
});

Deno.test("shrinkOnLoad: its value is in the task and changes the result identity", () => {
  const source = { storage: "files", path: "a", validator: "v1" };
  assert.equal(task("fast").shrinkOnLoad, "fast");
  assert.equal(task("quality").shrinkOnLoad, "quality");
  assert.notEqual(
    resultIdentity(task("fast"), source, "pure@1"),
    resultIdentity(task("quality"), source, "pure@1"),
  );
  assert.equal(
    resultIdentity(task("fast"), source, "pure@1"),
    resultIdentity(task("fast"), source, "pure@1"),
  );
});

/** Decoded size with the hint under `policy` (vips decodes inside its first resize). */
async function decodedWidth(backend: Backend, policy: ShrinkOnLoad): Promise<number> {
  const hint = { minSize: { width: target, height: target }, shrinkOnLoad: policy };
  const canvas = await backend.decode(plate, "jpeg", { hint, allFrames: false });
  try {
    return canvas.width;
  } finally {
    canvas.dispose();
  }
}

for (const name of ["pure", "imagemagick", "graphicsmagick", "vips"] as const) {
  Deno.test(`shrinkOnLoad (${name}): fast reads the JPEG at 1/4, quality at ≥ 2× the target`, async () => {
    const backend = await openBackend(name, image, 1);
    const results = new Map<ShrinkOnLoad, number>();
    for (const policy of ["fast", "quality"] as const) {
      const out = await decode(await runTransform(backend, task(policy), plate));
      assert.deepEqual([out.width, out.height], [target, target]);
      results.set(policy, aliasing(out, { width: side, height: side }));
    }
    const [fast, quality] = [results.get("fast")!, results.get("quality")!];
    assert.ok(fast > quality + AT_LEAST, `aliasing: fast ${fast}, quality ${quality}`);
    if (name !== "vips") {
      // The decoder's own answer: libjpeg's scale that covers the target times the margin.
      assert.equal(await decodedWidth(backend, "fast"), side / 4);
      // 1/2, or ImageMagick's 3/8 (libjpeg scales by M/8 there).
      assert.ok(await decodedWidth(backend, "quality") >= 2 * target);
    }
  });
}

Deno.test("shrinkOnLoad (pure): a scale whose exact size covers the target, as libjpeg's rule", async () => {
  // 60x40 of four flat colours, their borders inside DCT blocks. Read at 1/8 for 8x5 (its
  // rounded-up size reaches 8x5) the last block holds 4 columns, not 7.5: 9 levels off the
  // libraries on average, 24 at the border. At 1/4 it resizes like a full decode.
  const quads = await sharp(
    Uint8Array.from({ length: 60 * 40 * 3 }, (_, i) => {
      const x = (i / 3 | 0) % 60, y = i / 180 | 0, c = i % 3;
      return [[230, 20, 20], [20, 200, 20], [20, 20, 230], [255, 255, 255]][
        (y < 20 ? 0 : 2) + (x < 30 ? 0 : 1)
      ][c];
    }),
    { raw: { width: 60, height: 40, channels: 3 } },
  ).jpeg({ quality: 95, chromaSubsampling: "4:4:4" }).toBuffer();
  const bytes = new Uint8Array(quads);
  const backend = await openBackend("pure", image, 1);
  const small = parseChain("s,8x5", {
    presets: new Map(),
    maxBlurSigma: 50,
    maxChain: 16,
    defaultQuality: 80,
    avifQuality: 50,
  });
  const smallTask = taskFor({ ...job, chain: small }, null, { ...image, autoOrient: false });
  const out = await decode(await runTransform(backend, smallTask, bytes));
  const reference = resizeBitmap(await decode(bytes), 8, 5);
  let sum = 0;
  for (let i = 0; i < out.data.length; i++) sum += Math.abs(out.data[i] - reference.data[i]);
  const mean = sum / out.data.length;
  assert.ok(mean < 1.5, `${mean.toFixed(2)} levels off a full decode's resize`);
});
