import assert from "node:assert/strict";
import { planTransform } from "../lib/jobs/plan.ts";
import { resolveFormat } from "../lib/image/formats.ts";
import { parseConfig } from "../lib/config/config.ts";
import { parseChain } from "../lib/jobs/url.ts";
import { BadRequest, Unprocessable } from "../lib/errors.ts";
import type { ImageLimits } from "../lib/image/limits.ts";
import type { ImageInfo } from "../lib/image/probe.ts";
import type { EncodedType, OutputFormat } from "../lib/image/formats.ts";

const limits: ImageLimits = {
  maxSourceBytes: 1e9,
  maxSourcePixels: 50_000_000,
  maxOutputPixels: 50_000_000,
  maxFrames: 256,
  maxChain: 16,
  maxBlurSigma: 50,
};

function plan(
  chain: string,
  type: OutputFormat["type"],
  source: Partial<ImageInfo> = {},
  overrides: Partial<ImageLimits> = {},
  webp = false,
) {
  return planTransform(
    {
      chain: parseChain(chain, {
        presets: new Map(),
        maxBlurSigma: 50,
        maxChain: 16,
        defaultQuality: 80,
        avifQuality: 50,
      }),
      format: { type, quality: 80, webp },
      autoOrient: true,
    },
    { width: 1000, height: 1000, orientation: 1, ...source },
    { ...limits, ...overrides },
  );
}

function refused(run: () => unknown, type: typeof BadRequest | typeof Unprocessable, text: RegExp) {
  assert.throws(run, (error: Error) => {
    assert.ok(error instanceof type, `${error.name}: ${error.message}`);
    assert.match(error.message, text);
    return true;
  });
}

Deno.test("plan: each format's side limit, at the limit and one past it", () => {
  const cases: [EncodedType, number][] = [["jpeg", 65500], ["gif", 65535], [
    "webp",
    16383,
  ]];
  for (const [type, side] of cases) {
    assert.ok(plan(`s,${side}x1`, type).fitting.has(type));
    assert.ok(plan(`s,1x${side}`, type).fitting.has(type));
    for (const chain of [`s,${side + 1}x1`, `s,1x${side + 1}`]) {
      const size = chain.slice(2);
      refused(
        () => plan(chain, type),
        BadRequest,
        new RegExp(
          `^Format "${type}" allows at most ${side} pixels per side: the result would be ${size}$`,
        ),
      );
    }
  }
  // 2^16 and the URL's own maximum: still a 400, never a crash.
  refused(() => plan("s,65536x1", "jpeg"), BadRequest, /at most 65500 pixels per side/);
  refused(() => plan("s,100000x1", "gif"), BadRequest, /at most 65535 pixels per side/);
  // PNG's limit is 2^31-1: only the pixel limit applies; JPEG XL's is 131328.
  assert.deepEqual([...plan("s,100000x1", "png").fitting], ["png", "jxl"]);
});

Deno.test("plan: auto picks among the formats that can hold the result", async () => {
  /** What `auto` ends as for a still result, opaque or not, for a client that takes WebP or not. */
  const auto = async (chain: string, webp: boolean, alpha = false, frames?: number) => {
    const { fitting } = plan(chain, "auto", { frames }, {}, webp);
    const image = { frameCount: frames ?? 1, hasAlpha: () => alpha };
    return (await resolveFormat({ type: "auto", quality: 80, webp }, image, fitting)).type;
  };
  assert.equal(await auto("s,16383x1", true), "webp");
  // Too wide for WebP: PNG or JPEG by the pixels' alpha.
  assert.equal(await auto("s,16384x1", true), "jpeg");
  assert.equal(await auto("s,16384x1", true, true), "png");
  assert.equal(await auto("s,65500x1", false), "jpeg");
  // Too wide for JPEG as well: PNG, opaque or not.
  assert.equal(await auto("s,65501x1", false), "png");
  assert.equal(await auto("s,65536x1", true), "png");
  // An animation stays a GIF, and a GIF that cannot be written is refused.
  assert.equal(await auto("s,100x100", true, false, 3), "gif");
  refused(() => plan("s,65536x1", "auto", { frames: 2 }), BadRequest, /"gif" allows at most 65535/);
});

Deno.test("plan: fill's scaled size before its crop counts against maxOutputPixels", () => {
  const narrow = { width: 1, height: 100 };
  // s,100x100- on 1x100 scales to 100x10000 first.
  assert.deepEqual(plan("s,100x100-", "png", narrow, { maxOutputPixels: 1_000_000 }).output, {
    width: 100,
    height: 100,
  });
  refused(
    () => plan("s,100x100-", "png", narrow, { maxOutputPixels: 999_999 }),
    BadRequest,
    /^Filter "s" would make a 100x10000 image: at most 999999 pixels allowed in all$/,
  );
  refused(() => plan("s,5000x5000-", "png", narrow), BadRequest, /5000x500000 image/);
  // Every step is checked, not only the last.
  refused(() => plan("s,8000x8000,s,10x10", "png"), BadRequest, /"s" would make a 8000x8000/);
});

Deno.test("plan: an animation kept whole counts all its frames, a still result one", () => {
  const anim = { width: 1000, height: 1000, frames: 20 };
  const small = { maxOutputPixels: 1_000_000, maxSourcePixels: 50_000_000 };
  // 20 frames of 1000x1000 are 2e7 output pixels: 20x the limit.
  refused(
    () => plan("s,1000x1000", "gif", anim, small),
    BadRequest,
    /1000x1000 image in each of 20 frames: at most 1000000 pixels allowed in all/,
  );
  refused(() => plan("s,1000x1000", "auto", anim, small), BadRequest, /20 frames/);
  // 20 x 223x223 = 994,580 fits; 20 x 224x224 = 1,003,520 does not.
  assert.equal(plan("s,223x223", "gif", anim, small).allFrames, true);
  refused(() => plan("s,224x224", "gif", anim, small), BadRequest, /224x224/);
  // A still result reads one frame: neither limit multiplies.
  const still = plan("s,1000x1000", "png", anim, {
    maxOutputPixels: 1_000_000,
    maxSourcePixels: 1_000_000,
  });
  assert.equal(still.allFrames, false);
  // The source: frames x pixels against maxSourcePixels, only when all frames are decoded.
  refused(
    () => plan("s,10x10", "gif", anim, { maxSourcePixels: 19_999_999 }),
    Unprocessable,
    /^The source is 1000x1000 pixels in each of 20 frames: at most 19999999 allowed in all$/,
  );
  assert.equal(plan("s,10x10", "gif", anim, { maxSourcePixels: 20_000_000 }).allFrames, true);
  assert.equal(plan("s,10x10", "jpeg", anim, { maxSourcePixels: 1_000_000 }).allFrames, false);
});

Deno.test("plan: image.maxFrames, at the limit and one past it, only for animated results", () => {
  const source = { width: 10, height: 10 };
  assert.equal(plan("s,5x5", "gif", { ...source, frames: 256 }).allFrames, true);
  refused(
    () => plan("s,5x5", "gif", { ...source, frames: 257 }),
    Unprocessable,
    /^The source has 257 frames: at most 256 allowed for an animated result$/,
  );
  refused(() => plan("s,5x5", "auto", { ...source, frames: 1000 }), Unprocessable, /1000 frames/);
  assert.equal(plan("s,5x5", "png", { ...source, frames: 1000 }).allFrames, false);
  assert.equal(plan("s,5x5", "gif", { ...source, frames: 2 }, { maxFrames: 2 }).allFrames, true);
  refused(
    () => plan("s,5x5", "gif", { ...source, frames: 3 }, { maxFrames: 2 }),
    Unprocessable,
    /3 frames/,
  );
});

Deno.test("plan: the decode hint comes from the first step after the upright steps", () => {
  assert.deepEqual(plan("s,100x0", "jpeg").hint, { minSize: { width: 100, height: 100 } });
  // Orientation 6 (rotate 270) transposes: the hint is turned back into the stored axes.
  const rotated = plan("s,100x0", "jpeg", { width: 2000, height: 1000, orientation: 6 });
  assert.deepEqual(rotated.hint, { minSize: { width: 200, height: 100 } });
  assert.equal(plan("gs", "jpeg").hint, undefined);
});

Deno.test("config: image.maxFrames defaults to 256, takes 1 and more, refuses 0 and fractions", () => {
  const read = (image: Record<string, unknown>) =>
    parseConfig({ image, storages: [] }, "/tmp").image.maxFrames;
  assert.equal(read({}), 256);
  assert.equal(read({ maxFrames: 1 }), 1);
  assert.equal(read({ maxFrames: 100000 }), 100000);
  for (const bad of [0, -1, 1.5, "256"]) {
    assert.throws(() => read({ maxFrames: bad }), /image\.maxFrames/, String(bad));
  }
});

Deno.test("planTransform() refuses an image past the backend's own side limit, at the limit ±1", () => {
  const request = (width: number) => ({
    chain: parseChain(`s,${width}x1`, {
      presets: new Map(),
      maxBlurSigma: 50,
      maxChain: 16,
      defaultQuality: 80,
      avifQuality: 50,
    }),
    format: { type: "png" as const, quality: 80 },
    autoOrient: true,
  });
  const source = { width: 1000, height: 1000, orientation: 1 };
  const backend = { name: "imagemagick", maxSide: 15999 };
  assert.equal(planTransform(request(15998), source, limits, backend).output.width, 15998);
  assert.equal(planTransform(request(15999), source, limits, backend).output.width, 15999);
  assert.throws(
    () => planTransform(request(16000), source, limits, backend),
    (error: BadRequest) =>
      error instanceof BadRequest &&
      /the imagemagick backend allows at most 15999 pixels per side/.test(error.message),
  );
  assert.equal(planTransform(request(16000), source, limits).output.width, 16000);
});
