// Planning counts a JPEG's decode at the scale each backend really decodes it
// (lib/image/jpeg_scale.ts): on every backend, under `fast` and `quality`, on both sides of each
// scale step (±1 px), the planned decode is the decoder's, and the planned bytes cover it.
import assert from "node:assert/strict";
import sharp from "sharp";
import { parseConfig } from "../lib/config/config.ts";
import type { Backend, DecodeHint, ShrinkOnLoad } from "../lib/image/backend.ts";
import type { Bitmap, Size } from "../lib/image/bitmap.ts";
import { codecCost, heldBytesPerPixel } from "../lib/image/codec_costs.ts";
import { jpegScale } from "../lib/image/jpeg_scale.ts";
import { THUMBHASH_MAX_SIDE } from "../lib/image/placeholders.ts";
import { planTransform } from "../lib/jobs/plan.ts";
import { taskFor } from "../lib/jobs/task.ts";
import { parseChain } from "../lib/jobs/url.ts";
import type { OutputFormat } from "../lib/image/formats.ts";
import { openBackend } from "../lib/pool/backends.ts";
import { zonePlate } from "./helpers.ts";

const image = parseConfig({ storages: [] }, ".").image;
// Not multiples of 8, so each side's rounding at every scale is tried too.
const stored = { width: 1003, height: 757 };
const source = { ...stored, orientation: 1, format: "jpeg" as const };
// A zone plate: read at different scales, its resized pixels differ plainly (see `vipsScale`).
const jpeg = new Uint8Array(
  await sharp(zonePlate(stored.width, stored.height), {
    raw: { ...stored, channels: 3 },
  }).jpeg({ quality: 95, chromaSubsampling: "4:4:4" }).toBuffer(),
);
const area = (size: Size) => size.width * size.height;

/** The plan of `chain` as `format` under `policy` on `backend`, as the worker makes it. */
function planOf(chain: string, format: OutputFormat, policy: ShrinkOnLoad, backend: string) {
  const steps = chain === "" ? [] : parseChain(chain, {
    presets: new Map(),
    maxBlurSigma: 50,
    maxChain: 16,
    defaultQuality: 80,
    avifQuality: 50,
  });
  const job = { chain: steps, format, storage: "files", path: "a.jpg" };
  const task = taskFor(job, null, { ...image, autoOrient: false, shrinkOnLoad: policy });
  return planTransform({ ...task, overlays: {} }, source, task.limits, { name: backend });
}

const png: OutputFormat = { type: "png", quality: 80 };
const info: OutputFormat = { type: "info", quality: 80 };
const resizePlan = (width: number, policy: ShrinkOnLoad, backend: string) =>
  planOf(`s,${width}x0`, png, policy, backend);

/** Target widths on both sides of every step of `backend`'s planned decode scale. */
function stepEdges(policy: ShrinkOnLoad, backend: string): number[] {
  const widths = new Set<number>();
  let last = "";
  for (let width = 8; width < stored.width; width++) {
    const { hint } = resizePlan(width, policy, backend);
    const decoded = JSON.stringify(hint && jpegScale(backend, stored, hint).decoded);
    if (last && decoded !== last) { for (const w of [width - 1, width, width + 1]) widths.add(w); }
    last = decoded;
  }
  return [...widths];
}

/** The source decoded by a libjpeg at exactly 1/`reduction` (a magick backend's decoder). */
async function libjpegAt(magick: Backend, reduction: number): Promise<Bitmap> {
  const minSize = {
    width: Math.floor(stored.width / reduction),
    height: Math.floor(stored.height / reduction),
  };
  const canvas = await magick.decode(jpeg, "jpeg", { hint: { minSize }, allFrames: false });
  try {
    assert.equal(canvas.width, Math.ceil(stored.width / reduction));
    return await canvas.sample(Infinity);
  } finally {
    canvas.dispose();
  }
}

const meanDifference = (a: Uint8Array, b: Uint8Array) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
};

/**
 * The size libvips read the source at for `out`, a Lanczos resize of it to `out`'s size: sharp
 * says nothing of it, so `out` is compared with the same resize of the source decoded at each
 * reduction r by libjpeg, of which libvips keeps ⌊W/r⌋ x ⌊H/r⌋; the one it read matches to the
 * pixel (a mean difference under 0.1, where the next best is far).
 */
async function vipsScale(out: Bitmap, references: Map<number, Bitmap>): Promise<Size> {
  const scores: [number, number][] = [];
  for (const [reduction, decoded] of references) {
    const kept = {
      left: 0,
      top: 0,
      width: Math.floor(stored.width / reduction),
      height: Math.floor(stored.height / reduction),
    };
    const resized = await sharp(decoded.data, { raw: { ...decoded, channels: 4 } })
      .extract(kept)
      .resize(out.width, out.height, { fit: "fill", kernel: "lanczos3" })
      .ensureAlpha().raw().toBuffer();
    scores.push([reduction, meanDifference(out.data, resized)]);
  }
  scores.sort((a, b) => a[1] - b[1]);
  assert.ok(scores[0][1] < 0.1, `no reduction matches: ${JSON.stringify(scores)}`);
  const reduction = scores[0][0];
  return {
    width: Math.floor(stored.width / reduction),
    height: Math.floor(stored.height / reduction),
  };
}

/**
 * What `backend` really decodes for `hint`: the decoder's own size, or for vips (which decodes
 * inside the first resize, or the sample's) the reduction its resized pixels show.
 */
async function realDecode(
  backend: Backend,
  hint: DecodeHint,
  then: "resize" | "sample",
  references: Map<number, Bitmap>,
): Promise<Size> {
  const canvas = await backend.decode(jpeg, "jpeg", { hint, allFrames: false });
  try {
    if (backend.name !== "vips") return { width: canvas.width, height: canvas.height };
    if (then === "resize") canvas.resize(hint.minSize);
    const side = then === "resize" ? Infinity : THUMBHASH_MAX_SIDE;
    return await vipsScale(await canvas.sample(side), references);
  } finally {
    canvas.dispose();
  }
}

/** A libjpeg decoder that scales on request, to tell vips's reductions apart by. */
async function magickBackend(): Promise<Backend> {
  try {
    return await openBackend("graphicsmagick", image, 1);
  } catch {
    return await openBackend("imagemagick", image, 1);
  }
}

for (const name of ["pure", "imagemagick", "graphicsmagick", "vips"] as const) {
  Deno.test(`jpegScale (${name}): planning counts the decode the backend really makes, at every step's edge`, async () => {
    let backend: Backend;
    const references = new Map<number, Bitmap>();
    try {
      backend = await openBackend(name, image, 1);
      if (name === "vips") {
        const magick = await magickBackend();
        for (const reduction of [1, 2, 4, 8]) {
          references.set(reduction, await libjpegAt(magick, reduction));
        }
      }
    } catch (error) {
      if (Deno.env.get("CI") === "true") throw error;
      console.log(`skipped: ${(error as Error).message}`);
      return;
    }
    const held = heldBytesPerPixel(name);
    for (const policy of ["fast", "quality"] as const) {
      const cases = stepEdges(policy, name).map((width) => ({
        what: `s,${width}x0`,
        plan: resizePlan(width, policy, name),
        then: "resize" as "resize" | "sample",
      }));
      // `info` with no step samples the image at 100 px: the decoder shrinks for that too.
      cases.push({ what: "info", plan: planOf("", info, policy, name), then: "sample" });
      assert.ok(cases.length >= 7, `${policy}: ${cases.length} cases`);
      for (const { what, plan, then } of cases) {
        const real = await realDecode(backend, plan.hint!, then, references);
        const planned = jpegScale(name, stored, plan.hint!).decoded;
        const label = `${policy} ${what}`;
        assert.deepEqual(planned, real, `${label}: planned decode`);
        // The decode holds the image and the decoder's working set (codec_costs.ts); a resize
        // the decoded image and its result at once.
        const needed = Math.max(
          area(real) * Math.max(held, codecCost(name, "decode", "jpeg")?.bytesPerPixel ?? 0),
          (area(real) + (then === "resize" ? area(plan.output) : 0)) * held,
        );
        assert.ok(plan.bytes >= needed, `${label}: planned ${plan.bytes} bytes, needs ${needed}`);
      }
    }
  });
}
