// The decode-hint policy of issue 14: how much smaller than twice the target a JPEG may be
// decoded (libjpeg's 1/2, 1/4, 1/8 DCT scales) before the Lanczos resize. For each backend and
// margin: the aliasing left on a zone plate, the PSNR against a full decode resized with
// Lanczos3, and the CPU time of the work on a photo.
import { cpuUsage } from "node:process";
import sharp from "sharp";
import type { Backend } from "../lib/image/backend.ts";
import type { Bitmap, Size } from "../lib/image/bitmap.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { createMagickBackend } from "../lib/magick/backend.ts";
import { decodeBitmap, HINT_MARGIN as PURE_MARGIN } from "../lib/pure/decode.ts";
import { pureBackend } from "../lib/pure/backend.ts";

/** A gray zone plate, its local frequency rising from 0 at the centre to Nyquist at the corners. */
function zonePlate(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  const k = (0.5 * Math.PI) / Math.hypot(width / 2, height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r2 = (x - width / 2) ** 2 + (y - height / 2) ** 2;
      data.fill(
        Math.round(128 + 100 * Math.cos(k * r2)),
        (y * width + x) * 3,
        (y * width + x) * 3 + 3,
      );
    }
  }
  return data;
}

/**
 * RMS distance from mid-grey where the source's local frequency is above 1.5× the output's
 * Nyquist, where Lanczos3 passes nothing: what remains of the pattern there is aliasing (0 is
 * clean).
 */
const STOP_BAND = 1.5;

function aliasing(out: Bitmap, source: Size): number {
  const scale = source.width / out.width;
  const k = (0.5 * Math.PI) / Math.hypot(source.width / 2, source.height / 2);
  let sum = 0;
  let count = 0;
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const r = Math.hypot(
        (x + 0.5) * scale - source.width / 2,
        (y + 0.5) * scale - source.height / 2,
      );
      if ((k * r) / Math.PI < STOP_BAND / (2 * scale)) continue;
      sum += (out.data[(y * out.width + x) * 4] - 128) ** 2;
      count++;
    }
  }
  return Math.sqrt(sum / count);
}

function psnr(a: Bitmap, b: Bitmap): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    for (let c = i; c < i + 3; c++) sum += (a.data[c] - b.data[c]) ** 2;
  }
  return 10 * Math.log10((255 * 255) / (sum / ((a.data.length / 4) * 3)));
}

function cpuMs(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

/**
 * The margin each backend applies to the hint it is given: pure's own constant, and the magick
 * backends' `HINT_MARGIN` of lib/magick/decode.ts.
 */
const ownMargins: Record<string, number> = {
  pure: PURE_MARGIN,
  imagemagick: 2,
  graphicsmagick: 2,
};

/** Decodes with `margin` × target kept, by scaling the hint by the backend's own margin. */
async function throughBackend(
  backend: Backend,
  bytes: Uint8Array,
  target: Size,
  margin: number,
) {
  const own = ownMargins[backend.name];
  const hint = {
    minSize: {
      width: Math.ceil((target.width * margin) / own),
      height: Math.ceil((target.height * margin) / own),
    },
  };
  const canvas = await backend.decode(bytes, "jpeg", { hint, allFrames: false });
  try {
    canvas.resize(target);
    return await backend.encode(canvas, { type: "png", quality: 80 });
  } finally {
    canvas.dispose();
  }
}

/** sharp as the vips backend runs it, its fast shrink-on-load on or off. */
async function throughSharp(bytes: Uint8Array, target: Size, fast: boolean) {
  const resized = sharp(bytes).resize(target.width, target.height, {
    fit: "fill",
    kernel: "lanczos3",
    fastShrinkOnLoad: fast,
  });
  return new Uint8Array(await resized.png().toBuffer());
}

interface Case {
  name: string;
  source: Size;
  target: Size;
}

export async function runDecodeHintPolicy(quick: boolean, backends: string[]): Promise<void> {
  console.log("\n## Decode-hint policy: margin kept above the target before Lanczos3");
  console.log(
    "(aliasing: RMS left of a zone plate past the new Nyquist; PSNR against a full decode + Lanczos3; CPU per image on a photo)",
  );
  const photo = await Deno.readFile(new URL("../examples/photo.jpg", import.meta.url));
  const cases: Case[] = [
    {
      name: "2040x1356 → 512x340",
      source: { width: 2040, height: 1356 },
      target: { width: 512, height: 340 },
    },
    {
      name: "4096x4096 → 400x400",
      source: { width: 4096, height: 4096 },
      target: { width: 400, height: 400 },
    },
  ];
  const runs = quick ? 3 : 8;
  for (const { name, source, target } of cases) {
    console.log(`\n${name}`);
    const plate = new Uint8Array(
      await sharp(zonePlate(source.width, source.height), {
        raw: { ...source, channels: 3 },
      }).jpeg({ quality: 95, chromaSubsampling: "4:4:4" }).toBuffer(),
    );
    const picture = new Uint8Array(
      await sharp(photo).resize(source.width, source.height, { fit: "fill" }).jpeg({ quality: 90 })
        .toBuffer(),
    );
    const reference = resizeBitmap(await decodeBitmap(plate, "jpeg"), target.width, target.height);
    const contenders: { label: string; run: (bytes: Uint8Array) => Promise<Uint8Array> }[] = [];
    for (const backend of backends) {
      if (backend === "vips") {
        contenders.push({
          label: "vips, margin 2 (fastShrinkOnLoad off)",
          run: (b) => throughSharp(b, target, false),
        });
        contenders.push({
          label: "vips, margin 1 (fastShrinkOnLoad on)",
          run: (b) => throughSharp(b, target, true),
        });
        continue;
      }
      let opened: Backend;
      try {
        opened = backend === "pure"
          ? pureBackend
          : createMagickBackend(backend as "imagemagick", { maxSourcePixels: 1e8 });
      } catch (error) {
        console.log(`${backend}: skipped (${(error as Error).message})`);
        continue;
      }
      for (const margin of [2, 1.9, 1.5, 1]) {
        contenders.push({
          label: `${backend}, margin ${margin}`,
          run: (b) => throughBackend(opened, b, target, margin),
        });
      }
    }
    for (const { label, run } of contenders) {
      const out = await decodeBitmap(await run(plate), "png");
      await run(picture);
      const before = cpuMs();
      for (let i = 0; i < runs; i++) await run(picture);
      const cpu = (cpuMs() - before) / runs;
      console.log(
        `${label.padEnd(40)} aliasing ${aliasing(out, source).toFixed(2).padStart(5)}  PSNR ${
          psnr(out, reference).toFixed(1)
        } dB  ${cpu.toFixed(1).padStart(6)} ms CPU`,
      );
    }
    console.log(
      `${"full decode + Lanczos3 (reference)".padEnd(40)} aliasing ${
        aliasing(reference, source).toFixed(2).padStart(5)
      }`,
    );
  }
}

if (import.meta.main) {
  const backends = Deno.args.find((a) => a.startsWith("--backends="))?.slice(11).split(",") ??
    ["pure", "imagemagick", "graphicsmagick", "vips"];
  await runDecodeHintPolicy(Deno.args.includes("--quick"), backends);
}
