// Output formats per backend: the example photo at 1000x750 (a JPEG, q90) → 400x300 → JPEG q80,
// WebP q75, AVIF at its default quality and JPEG XL q75 (effort 3), by bytes and encode time,
// with the AVIF/JPEG byte ratio and the AVIF/WebP time ratio (the encoder speed was chosen to
// keep it near 3 or less), JPEG XL's bytes and time against AVIF and WebP, and each output's
// PSNR against the pixels encoded, to compare sizes at known quality.
// Runs alone as `deno run -A bench/formats.ts [--quick] [--backends=pure,…]`, or from bench/run.ts.
import { type BackendName, parseConfig } from "../lib/config/config.ts";
import type { Backend } from "../lib/image/backend.ts";
import type { OutputFormat } from "../lib/image/formats.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { openBackend } from "../lib/pool/backends.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { decode, psnr } from "../tests/helpers.ts";

const formats: [string, OutputFormat][] = [
  ["jpeg,80", { type: "jpeg", quality: 80 }],
  ["webp,75", { type: "webp", quality: 75 }],
  ["avif (50)", { type: "avif", quality: 50 }],
  ["jxl,75", { type: "jxl", quality: 75 }],
];

/** The default limits, as a config without an `image` section has them. */
const limits = parseConfig({}, ".").image;

/** The example photo scaled to exactly 1000x750 and stored as a JPEG (q90). */
async function photo1000(): Promise<Uint8Array> {
  const url = new URL("../examples/photo.jpg", import.meta.url);
  const original = await decodeBitmap(await Deno.readFile(url), "jpeg");
  return await encodeBitmap(resizeBitmap(original, 1000, 750), { type: "jpeg", quality: 90 });
}

/**
 * Decodes and resizes (untimed), then times one encode: its bytes, milliseconds, and PSNR
 * against the pixels it was given.
 */
async function encodeOnce(backend: Backend, source: Uint8Array, format: OutputFormat) {
  const canvas = await backend.decode(source, "jpeg", { allFrames: false });
  try {
    canvas.resize({ width: 400, height: 300 });
    const pixels = await canvas.sample(Infinity);
    const start = performance.now();
    const bytes = await backend.encode(canvas, format);
    const ms = performance.now() - start;
    return { bytes: bytes.byteLength, ms, psnr: psnr(await decode(bytes), pixels) };
  } finally {
    canvas.dispose();
  }
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/** Prints the table for each backend that opens. */
export async function benchFormats(rounds: number, backends: readonly BackendName[]) {
  console.log("\n## Formats: 1000x750 photo → 400x300, encode only (median)");
  const source = await photo1000();
  for (const name of backends) {
    let backend: Backend;
    try {
      backend = await openBackend(name, limits, 1);
    } catch (error) {
      console.log(`${name}: skipped (${(error as Error).message})`);
      continue;
    }
    await backend.warmUp?.();
    for (const [, format] of formats) await encodeOnce(backend, source, format);
    const times = new Map(formats.map(([label]) => [label, [] as number[]]));
    const bytes = new Map<string, number>();
    const quality = new Map<string, number>();
    // Interleaved, so a change in the machine's load falls on every format alike.
    for (let round = 0; round < rounds; round++) {
      for (const [label, format] of formats) {
        const result = await encodeOnce(backend, source, format);
        times.get(label)!.push(result.ms);
        bytes.set(label, result.bytes);
        quality.set(label, result.psnr);
      }
    }
    const ms = (label: string) => median(times.get(label)!);
    for (const [label] of formats) {
      console.log(
        `${name.padEnd(15)} ${label.padEnd(10)} ${String(bytes.get(label)).padStart(7)} bytes ${
          ms(label).toFixed(1).padStart(7)
        } ms ${quality.get(label)!.toFixed(1).padStart(5)} dB`,
      );
    }
    const [jpeg, webp, avif, jxl] = formats.map(([label]) => label);
    const ratio = (a: number, b: number) => `×${(a / b).toFixed(2)}`;
    console.log(
      `${name.padEnd(15)} AVIF/JPEG bytes ${ratio(bytes.get(avif)!, bytes.get(jpeg)!)}, ` +
        `AVIF/WebP time ${ratio(ms(avif), ms(webp))}; JXL/AVIF bytes ${
          ratio(bytes.get(jxl)!, bytes.get(avif)!)
        }, JXL/WebP bytes ${ratio(bytes.get(jxl)!, bytes.get(webp)!)}, JXL/AVIF time ${
          ratio(ms(jxl), ms(avif))
        }, JXL/WebP time ${ratio(ms(jxl), ms(webp))}`,
    );
  }
}

if (import.meta.main) {
  const chosen = Deno.args.find((a) => a.startsWith("--backends="))?.slice(11).split(",");
  await benchFormats(
    Deno.args.includes("--quick") ? 3 : 9,
    (chosen ?? ["pure", "imagemagick", "graphicsmagick", "vips"]) as BackendName[],
  );
}
