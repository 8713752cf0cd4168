// The largest blur the default config allows on GraphicsMagick, on a server in its own process:
// its peak RSS stays within what planning reserved for it, and a client leaving in the middle of
// it leaves the CPU idle (tests/cancel_test.ts has the deadline passing in a blur on every
// backend). GraphicsMagick blurs a copy framed by
// repeated edges (lib/magick/blur.ts); held whole, that copy and the library's two working
// images grew the server by 4.3 images' worth where planning counts 3.
import assert from "node:assert/strict";
import { createBitmap } from "../lib/image/bitmap.ts";
import { probeImage } from "../lib/image/probe.ts";
import { parseConfig } from "../lib/config/config.ts";
import { planTransform } from "../lib/jobs/plan.ts";
import { parseChain } from "../lib/jobs/url.ts";
import { BadRequest, Unprocessable } from "../lib/errors.ts";
import { cpuDuring, rss, startBackendChild } from "./child_server.ts";
import { encode, hangUpAfter, quiet } from "./helpers.ts";

const MiB = 1024 * 1024;
const backend = "graphicsmagick";
/**
 * What a request's peak may pass its plan by: the source's and the result's bytes, the strips of
 * pixels in JavaScript, and the allocator's rounding.
 */
const MARGIN = 48 * MiB;

const { image } = parseConfig({ storages: [{ name: "files", type: "local", path: "." }] }, "/");

/** The planned peak bytes of `chain` to JPEG on a `side`x`side` JPEG, or 0 when refused. */
function planned(chain: string, side: number): number {
  const steps = parseChain(chain, {
    presets: new Map(),
    maxBlurSigma: image.maxBlurSigma,
    maxChain: image.maxChain,
    defaultQuality: 80,
    avifQuality: 50,
    watermarks: new Map(),
  });
  try {
    return planTransform(
      { chain: steps, format: { type: "jpeg", quality: 80 }, autoOrient: true, overlays: {} },
      { width: side, height: side, orientation: 1, format: "jpeg" },
      image,
      { name: backend },
    ).bytes;
  } catch (error) {
    if (error instanceof BadRequest || error instanceof Unprocessable) return 0;
    throw error;
  }
}

/** The largest square side the default config plans `chain` for. */
function largestSide(chain: string): number {
  let [allowed, refused] = [1000, 20000];
  while (refused - allowed > 1) {
    const side = Math.floor((allowed + refused) / 2);
    if (planned(chain, side)) allowed = side;
    else refused = side;
  }
  return allowed;
}

/** A smooth picture with some detail as a JPEG, made without a per-pixel callback. */
function picture(side: number): Promise<Uint8Array> {
  const bitmap = createBitmap(side, side);
  const d = bitmap.data;
  for (let y = 0, p = 0; y < side; y++) {
    for (let x = 0; x < side; x++, p += 4) {
      d[p] = 128 + 100 * Math.sin(x / 37);
      d[p + 1] = (x ^ y) & 0xff;
      d[p + 2] = 128 + 80 * Math.cos(y / 29);
      d[p + 3] = 255;
    }
  }
  return encode(bitmap, "jpeg", 85);
}

/** The process's peak RSS since the last reset, in bytes, and a reset (Linux `clear_refs`). */
const peakRss = async (pid: number) =>
  Number(/VmHWM:\s+(\d+)/.exec(await Deno.readTextFile(`/proc/${pid}/status`))![1]) * 1024;
const resetPeak = (pid: number) => Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");

Deno.test("graphicsmagick: the largest blur allowed stays within its planned memory and stops when its client leaves", async () => {
  const chain = "b,2";
  const side = largestSide(chain);
  const plan = planned(chain, side);
  assert.ok(plan > 0 && planned(chain, side + 1) === 0, `${side}: ${plan}`);
  const server = await startBackendChild(
    { "big.jpg": await picture(side) },
    backend,
    { http: { workers: 1, timeout: "60s" } },
  );
  if (!server) return;
  try {
    // The library and the worker warm, on a small blur of the same source.
    const warm = await fetch(`${server.url}/s,64x64,b,2/jpeg/files/big.jpg`);
    assert.equal(warm.status, 200, await warm.text());
    await quiet(server.pid);

    // sh,0.5: under a sigma of 1 the rows stream through the sampled kernel in JavaScript (a
    // copy of the image as 8-bit pixels and a blurred one had passed the plan by 84 MiB).
    for (const each of [chain, "sh,0.5"]) {
      const eachPlan = planned(each, side);
      assert.ok(eachPlan > 0, `${each} is allowed at ${side}x${side}`);
      const base = await rss(server.pid);
      await resetPeak(server.pid);
      const answer: Response = await fetch(`${server.url}/${each}/jpeg/files/big.jpg`);
      const body = new Uint8Array(await answer.arrayBuffer());
      const grew = await peakRss(server.pid) - base;
      assert.equal(answer.status, 200, new TextDecoder().decode(body.subarray(0, 300)));
      const { width, height } = probeImage(body, "jpeg");
      assert.deepEqual([width, height], [side, side]);
      console.log(
        `${each} of ${side}x${side}: RSS +${(grew / MiB).toFixed(0)} MiB, planned ${
          (eachPlan / MiB).toFixed(0)
        } MiB`,
      );
      assert.ok(
        grew <= eachPlan + MARGIN,
        `${each} of ${side}x${side} grew the server by ${(grew / MiB).toFixed(0)} MiB: over ` +
          `its plan, ${(eachPlan / MiB).toFixed(0)} MiB, + ${MARGIN / MiB}`,
      );
    }

    // A client that leaves in the middle of the blur (past the ~0.5 s decode): its job stops.
    await hangUpAfter(`${server.url}/b,1.9/jpeg/files/big.jpg`, 1500);
    const afterLeaving = await cpuDuring(server.pid, 2000);
    assert.ok(afterLeaving < 0.5, `${afterLeaving.toFixed(2)} s of CPU after the client left`);
    assert.match(
      server.output(),
      /b,1\.9\/jpeg\S* 499 /,
      `the job was running when it left: ${server.output().slice(-600)}`,
    );
  } finally {
    await server.close();
  }
});
