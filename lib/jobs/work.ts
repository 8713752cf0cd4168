/**
 * A job's CPU time, estimated from its plan before anything is decoded: what tells a light job,
 * one that may run where nothing can stop it, from a heavy one (see `jobGoesToProcess` in
 * lib/pool/backends.ts). The figures are rounded up from vips, the backend that asks, measured in
 * one thread on the 2-core machine (bench/light_jobs.ts prints estimate and measure side by
 * side): W1 (4096x4096 JPEG →
 * `s,400x0`) is estimated 26 ms and takes 23–28; W2 (2040x1356 → `s,512x512`) 95 / 21–24 as
 * JPEG, 117 / 45–53 as PNG, 130 / 49–51 as WebP. Estimates stay above the measure but for a
 * large upscale (1000² → 2000²: 152 / 155–239) and a smart crop's first run (43 / 60).
 *
 * @module
 */
import type { EncodedType } from "../image/formats.ts";
import type { Plan } from "./plan.ts";

/**
 * The most planned CPU milliseconds of a light job, which a worker runs in its own thread on a
 * backend that cannot stop inside its library (vips; see `runsInJobProcess`): one this short
 * ends well within the half second a cancelled job may take, and skips the job process's
 * hand-over (W1 through the server, back to back: 23.8 ms of CPU an image in a thread, 27.4 in a
 * job process).
 */
export const LIGHT_JOB_MS = 150;

/** One plain pass over one pixel (a resample, a copy, a JPEG's IDCT at its scale). */
const NS_PER_PIXEL_PASS = 15;
/** One byte of the source, whose entropy decode is done whatever the scale. */
const NS_PER_SOURCE_BYTE = 10;
/** One pixel encoded, by type; WebP's alpha plane is compressed losslessly besides. */
const ENCODE_NS: Readonly<Record<EncodedType, number>> = {
  jpeg: 15,
  png: 100,
  webp: 150,
  gif: 1200,
  avif: 500,
  jxl: 2000,
};
const WEBP_ALPHA_NS = 700;

const encodeNs = (type: EncodedType, alpha: boolean) =>
  type === "webp" && alpha ? WEBP_ALPHA_NS : ENCODE_NS[type];

/** The planned CPU milliseconds of the job `plan` on a source of `sourceBytes` bytes. */
export function plannedWorkMs(
  plan: Pick<Plan, "work" | "alpha" | "decodeMs">,
  sourceBytes: number,
): number {
  const { pixelPasses, encodedPixels, types } = plan.work;
  const encode = Math.max(0, ...types.map((type) => encodeNs(type, plan.alpha)));
  const ns = sourceBytes * NS_PER_SOURCE_BYTE + pixelPasses * NS_PER_PIXEL_PASS +
    encodedPixels * encode;
  // A decoder with a cost of its own in lib/image/codec_costs.ts (vips: AVIF's) adds that.
  return ns / 1e6 + plan.decodeMs;
}
