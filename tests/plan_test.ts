import assert from "node:assert/strict";
import { type PlanRequest, planTransform } from "../lib/jobs/plan.ts";
import { resolveFormat } from "../lib/image/formats.ts";
import { parseConfig } from "../lib/config/config.ts";
import { parseChain } from "../lib/jobs/url.ts";
import { BadRequest, Unprocessable } from "../lib/errors.ts";
import type { ImageLimits } from "../lib/image/limits.ts";
import type { ImageInfo } from "../lib/image/probe.ts";
import type { EncodedType, OutputFormat, SourceFormat } from "../lib/image/formats.ts";
import { JobBudget } from "../lib/pool/job_budget.ts";
import { codecCost } from "../lib/image/codec_costs.ts";
import { Unavailable } from "../lib/errors.ts";
import { LIGHT_JOB_MS, plannedWorkMs } from "../lib/jobs/work.ts";

const limits: ImageLimits = {
  maxSourceBytes: 1e9,
  maxSourcePixels: 50_000_000,
  maxOutputPixels: 50_000_000,
  maxFrames: 256,
  maxChain: 16,
  maxBlurSigma: 50,
};

/** The example config's watermark, and the same image at scale 1. */
const mark = {
  storage: "files",
  path: "logo.png",
  gravity: "se" as const,
  opacity: 0.6,
  margin: 16,
};
const watermarks = new Map([
  ["logo", { name: "logo", ...mark, scale: 0.2 }],
  ["full", { name: "full", ...mark, scale: 1 }],
]);

function plan(
  chain: string,
  type: OutputFormat["type"],
  source: Partial<ImageInfo & { format: SourceFormat }> = {},
  overrides: Partial<ImageLimits> = {},
  webp = false,
  backend = "",
  overlays: PlanRequest["overlays"] = {
    logo: { width: 400, height: 400 },
    full: { width: 400, height: 400 },
  },
) {
  return planTransform(
    {
      chain: parseChain(chain, {
        presets: new Map(),
        maxBlurSigma: 50,
        maxChain: 16,
        defaultQuality: 80,
        avifQuality: 50,
        watermarks,
      }),
      format: { type, quality: 80, webp },
      autoOrient: true,
      overlays,
    },
    { width: 1000, height: 1000, orientation: 1, ...source },
    { ...limits, ...overrides },
    { name: backend },
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
    /^Filter "s" would make a 100x10000 image: at most 999999 pixels allowed in all \(image\.maxOutputPixels\)$/,
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
  // It carries the shrink-on-load policy (fast by default), which planning counts the decode by.
  const fast = { shrinkOnLoad: "fast" };
  assert.deepEqual(plan("s,100x0", "jpeg").hint, { minSize: { width: 100, height: 100 }, ...fast });
  // Orientation 6 (rotate 270) transposes: the hint is turned back into the stored axes.
  const rotated = plan("s,100x0", "jpeg", { width: 2000, height: 1000, orientation: 6 });
  assert.deepEqual(rotated.hint, { minSize: { width: 200, height: 100 }, ...fast });
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

Deno.test("plan: a watermark's decoded and scaled mark count, the mark clipped to what shows", () => {
  // 100000x1: the logo at 0.2 is 20000x20000, of which one row shows: 5 source rows scale to
  // 20000x250, well inside the limit.
  assert.deepEqual(plan("s,100000x1,wm,logo", "png").output, { width: 100000, height: 1 });
  // At scale 1 the 5 rows scale to 100000x1250: over the pixel limit, refused before decoding.
  refused(
    () => plan("s,100000x1,wm,full", "png"),
    BadRequest,
    /^Filter "wm" would make a 100000x1250 image: at most 50000000 pixels allowed in all \(image\.maxOutputPixels\)$/,
  );
  // The decoded mark is held to the limit too.
  refused(
    () => plan("wm,logo", "png", {}, { maxOutputPixels: 159_999 }),
    BadRequest,
    /"wm" would make a 400x400 image/,
  );
});

Deno.test("plan: a watermark's mark is decoded at its decoder's cost, like a source", () => {
  // A 7000x7000 PNG mark on pure: 561 MiB planned as a source, but ~190 as a mark (4 B a
  // pixel held), which grew a server by 402-527 MiB under image.maxJobBytes 300 MiB.
  const big = { width: 7000, height: 7000, format: "png" as const };
  const request = (overlays: PlanRequest["overlays"]) =>
    plan(
      "s,400x300,wm,full",
      "png",
      { width: 600, height: 400, format: "jpeg" },
      { maxJobBytes: 2 ** 40 },
      false,
      "pure",
      overlays,
    );
  const asSource = plan("s,400x300", "png", big, { maxJobBytes: 2 ** 40 }, false, "pure");
  const asMark = request({ full: big });
  assert.ok(asMark.bytes >= asSource.bytes, `mark ${asMark.bytes}, source ${asSource.bytes}`);
  // Without a known format (a size alone), the mark counts as held pixels.
  const sized = request({ full: { width: 7000, height: 7000 } });
  assert.ok(sized.bytes >= 7000 * 7000 * 4 && sized.bytes < asMark.bytes, `${sized.bytes}`);
});

Deno.test("plan: a blur's, sharpen's and pad's scratch images count", () => {
  const small = { maxOutputPixels: 999_999 };
  for (const chain of ["b,1", "sh,1", "pad,1000x1000"]) {
    assert.equal(plan(chain, "png").output.width, 1000);
  }
  assert.ok(plan("b,1", "png").bytes >= 3 * 4 * 1_000_000, "input, scratch and output");
  // b,0 does nothing and makes nothing.
  assert.equal(plan("s,999x1000,b,0", "png", {}, small).output.width, 999);
  // Each scratch image is one more image in the job's memory: pad's of the step's size, a
  // blur's framed by 3 sigma of repeated edges on each side (GraphicsMagick blurs such a copy).
  const scratch = { "b,1": 1006 * 1006, "sh,1": 1006 * 1006, "pad,1000x1000": 1000 * 1000 };
  for (const [chain, pixels] of Object.entries(scratch)) {
    assert.equal(plan(chain, "png").bytes - plan("gs", "png").bytes, 4 * pixels, chain);
  }
});

Deno.test("plan: an uninterruptible encode over http.timeout, or a job over image.maxJobBytes, is a 400", () => {
  const tenSeconds = { timeoutMs: 10_000, maxJobBytes: 512 * 2 ** 20 };
  // 49 MP of AVIF on pure: about 22 s of one WebAssembly call.
  refused(
    () => plan("s,7000x7000", "avif", {}, tenSeconds, false, "pure"),
    BadRequest,
    /^Encoding the 7000x7000 result as avif would take about 22\.1 s on the pure backend, which nothing can interrupt: more than http\.timeout \(10\.0 s\)$/,
  );
  // With time enough, its memory (1.6 GiB) is still too much.
  refused(
    () => plan("s,7000x7000", "avif", {}, { ...tenSeconds, timeoutMs: 60_000 }, false, "pure"),
    BadRequest,
    /would need about 1589 MiB at its peak: more than image\.maxJobBytes \(512 MiB\)$/,
  );
  // The limit ±1 on a backend whose WebP encode of an opaque image (a JPEG's) costs 100 ns and
  // 4 + 8 bytes a pixel.
  const jpeg = { format: "jpeg" as const };
  const at = (pixels: number) => plan(`s,${pixels}x1`, "webp", jpeg, tenSeconds, false, "vips");
  assert.equal(at(16383).output.width, 16383);
  const fits = plan("s,10000x4000", "webp", jpeg, { maxJobBytes: 480_000_000 }, false, "vips");
  assert.equal(fits.bytes, 480_000_000);
  refused(
    () => plan("s,10000x4000", "webp", jpeg, { maxJobBytes: 479_999_999 }, false, "vips"),
    BadRequest,
    /image\.maxJobBytes/,
  );
  // One that may hold transparency (a PNG's, or a clear pad's border) costs its alpha plane too.
  const alphaBytes = 40_000_000 * (4 + codecCost("vips", "encode", "webp", true)!.bytesPerPixel);
  const transparent: [string, { format?: "jpeg" }][] = [
    ["s,10000x4000", {}],
    ["s,9000x4000,pad,10000x4000", jpeg],
  ];
  for (const [chain, source] of transparent) {
    assert.equal(plan(chain, "webp", source, {}, false, "vips").bytes, alphaBytes, chain);
  }
  assert.equal(
    plan("s,9000x4000,pad,10000x4000:ffffff", "webp", jpeg, {}, false, "vips").bytes,
    480_000_000,
  );
  // auto drops WebP when it cannot afford it, and keeps PNG and JPEG; a cheaper WebP it keeps.
  const ns = (type: EncodedType) => codecCost("pure", "encode", type)!.nsPerPixel;
  const between = (ns("webp") + Math.max(ns("png"), ns("jpeg"))) / 2;
  const timeoutMs = (1e6 * between) / 1e6;
  const auto = plan("s,1000x1000", "auto", jpeg, { timeoutMs }, true, "pure");
  assert.ok(ns("webp") > Math.max(ns("png"), ns("jpeg")));
  assert.ok(!auto.fitting.has("webp") && auto.fitting.has("png") && auto.fitting.has("jpeg"));
  const roomy = plan("s,1000x1000", "auto", jpeg, { timeoutMs: 2 * timeoutMs }, true, "pure");
  assert.ok(roomy.fitting.has("webp"));
  // A source whose decode alone cannot fit is a 422.
  refused(
    () =>
      plan(
        "s,100x0",
        "png",
        { width: 7000, height: 7000, format: "png" },
        tenSeconds,
        false,
        "pure",
      ),
    Unprocessable,
    /^Decoding the 7000x7000 source would need about 561 MiB at its peak/,
  );
  // A JPEG shrunk on load plans its decoded size only.
  assert.ok(
    plan("s,100x0", "png", { width: 7000, height: 7000, format: "jpeg" }, tenSeconds, false, "pure")
      .bytes < 50 * 2 ** 20,
  );
});

Deno.test("plan: pure's WebAssembly TIFF and GIF decoders are counted at their measured cost", () => {
  const pure = (
    type: OutputFormat["type"],
    source: Partial<ImageInfo & { format: SourceFormat }>,
  ) => plan("s,100x0", type, source, { maxJobBytes: 2 ** 40 }, false, "pure");
  // Measured in a fresh process (2048x2048): 19–23 B a pixel for 8-bit TIFF, 38 for 16-bit
  // RGBA; 18–20 for a GIF's one frame, ~8 for each of 100 frames of 500x500. A 49 MP TIFF
  // grew a server by 524 MiB where 187 MiB was planned.
  const tiff = pure("png", { width: 2048, height: 2048, format: "tiff" });
  assert.ok(tiff.bytes >= 2048 * 2048 * 38, `TIFF: ${tiff.bytes}`);
  assert.ok(tiff.decodeMs >= 2048 * 2048 * 296e-6, "TIFF: the WebAssembly call's time");
  const gif = pure("png", { width: 2048, height: 2048, format: "gif" });
  assert.ok(gif.bytes >= 2048 * 2048 * 20, `GIF: ${gif.bytes}`);
  // The decoder's working set is spent once, not per frame: 100 frames cost ~8 B each.
  const frames = pure("gif", { width: 500, height: 500, format: "gif", frames: 100 });
  const perFrame = frames.bytes / (500 * 500 * 100);
  assert.ok(perFrame >= 8 && perFrame < 20, `an animation's ${perFrame} B a pixel a frame`);
  refused(
    () =>
      plan(
        "s,100x0",
        "png",
        { width: 4000, height: 4000, format: "tiff" },
        { maxJobBytes: 512 * 2 ** 20 },
        false,
        "pure",
      ),
    Unprocessable,
    /^Decoding the 4000x4000 source would need/,
  );
});

Deno.test("JobBudget: jobs over the process budget wait for none and get a 503; bytes come back", async () => {
  const budget = new JobBudget(100);
  let release!: () => void;
  const first = budget.run(60, () => new Promise<void>((resolve) => release = resolve));
  assert.equal(budget.bytes, 60);
  await assert.rejects(
    budget.run(41, () => Promise.resolve()),
    (error: Error) =>
      error instanceof Unavailable && /image\.maxInflightJobBytes/.test(error.message),
  );
  assert.equal(await budget.run(40, () => Promise.resolve("ran")), "ran");
  release();
  await first;
  assert.equal(budget.bytes, 0);
  await assert.rejects(budget.run(100, () => Promise.reject(new Error("failed"))), /failed/);
  assert.equal(budget.bytes, 0);
});

Deno.test("config: image.maxJobBytes and image.maxInflightJobBytes, their defaults and bounds", () => {
  const image = (section: Record<string, unknown>, http: Record<string, unknown> = {}) =>
    parseConfig({ image: section, http }, ".").image;
  const defaults = image({}, { workers: 3, timeout: "12s" });
  assert.equal(defaults.maxJobBytes, 512 * 2 ** 20);
  assert.equal(defaults.maxInflightJobBytes, 2 * 3 * 512 * 2 ** 20);
  // Uninterruptible calls are planned against http.timeout.
  assert.equal(defaults.timeoutMs, 12_000);
  assert.equal(image({ maxJobBytes: 1 }).maxJobBytes, 1);
  assert.equal(image({ maxJobBytes: 2 ** 31, maxInflightJobBytes: 2 ** 31 }).maxJobBytes, 2 ** 31);
  for (const bad of [0, -1, 1.5, "1GB", 2 ** 53]) {
    assert.throws(() => image({ maxJobBytes: bad }), /"image\.maxJobBytes" must be an integer/);
  }
  // The budget holds at least one job of the largest size.
  assert.throws(
    () => image({ maxJobBytes: 1000, maxInflightJobBytes: 999 }),
    /"image\.maxInflightJobBytes" must be an integer from 1000/,
  );
  assert.equal(image({ maxJobBytes: 1000, maxInflightJobBytes: 1000 }).maxInflightJobBytes, 1000);
});

Deno.test("plannedWorkMs: W1 and W2 are light on vips; wide blurs, large WebPs, AVIFs and GIFs are heavy", () => {
  /** The estimate of `chain` as `type` from a `width`x`height` JPEG of `bytes` bytes. */
  const ms = (
    chain: string,
    type: OutputFormat["type"],
    width: number,
    height: number,
    bytes = 0,
  ) =>
    plannedWorkMs(plan(chain, type, { width, height, format: "jpeg" }, {}, false, "vips"), bytes);
  const light = (value: number) => value <= LIGHT_JOB_MS;
  // W1 (its source is 1.3 MB) and W2 as JPEG, PNG and WebP: the bench's hot paths stay in the
  // worker's thread.
  assert.ok(light(ms("s,400x0", "jpeg", 4096, 4096, 1_320_608)), "W1");
  for (const type of ["jpeg", "png", "webp"] as const) {
    assert.ok(light(ms("s,512x512", type, 2040, 1356, 377_424)), `W2 ${type}`);
  }
  // The source's bytes count: the entropy decode reads every one whatever the scale.
  assert.ok(!light(ms("s,400x0", "jpeg", 4096, 4096, 50_000_000)), "a 50 MB source");
  // Work grows with the blur's sigma and the result's pixels, and with the encoder's cost.
  assert.ok(ms("b,50", "jpeg", 1000, 1000) > ms("b,20", "jpeg", 1000, 1000));
  assert.ok(ms("b,20", "jpeg", 1000, 1000) > ms("b,2", "jpeg", 1000, 1000));
  assert.ok(ms("sh,5", "jpeg", 1000, 1000) > ms("b,5", "jpeg", 1000, 1000), "the mask's pass");
  assert.ok(!light(ms("b,50", "jpeg", 1000, 1000)), "b,50 of 1 MP");
  assert.ok(!light(ms("b,40", "png", 4096, 4096)), "b,40 of 16 MP");
  assert.ok(!light(ms("none", "webp", 2000, 1500)), "a 3 MP WebP");
  assert.ok(!light(ms("s,512x512", "avif", 2040, 1356)), "W2 as AVIF");
  assert.ok(!light(ms("none", "gif", 1000, 1000)), "a 1 MP GIF");
  assert.ok(!light(ms("s,2000x0", "jpeg", 4096, 4096)), "a 4 MP result");
  assert.ok(light(ms("s,300x300", "avif", 1000, 1000)), "a small AVIF");
  // A progressive JPEG's scans each pass over the whole image, whatever the scale it is read
  // at; an AVIF's decode has a cost per pixel of its own.
  const from = (source: Partial<ImageInfo & { format: SourceFormat }>) =>
    plannedWorkMs(plan("s,100x0", "jpeg", source, {}, false, "vips"), 0);
  const photo = { width: 2500, height: 2000 };
  assert.ok(light(from({ ...photo, format: "jpeg", progressiveScans: 10 })), "10 scans");
  assert.ok(!light(from({ ...photo, format: "jpeg", progressiveScans: 100 })), "100 scans");
  assert.ok(light(from({ ...photo, format: "jpeg" })), "a baseline JPEG");
  assert.ok(!light(from({ ...photo, format: "avif" })), "a 5 MP AVIF");
  // `auto` counts the slowest type it may end as.
  assert.ok(
    plannedWorkMs(plan("s,512x512", "auto", { width: 2040, height: 1356 }, {}, true, "vips"), 0) >
      plannedWorkMs(plan("s,512x512", "auto", { width: 2040, height: 1356 }, {}, false, "vips"), 0),
  );
});
