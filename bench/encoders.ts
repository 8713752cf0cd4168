// The pure backend's W1 (4096x4096 JPEG → s,400x0 → jpeg,80) with ImageScript's native JPEG
// encoder (the one the pure backend used first; kept here only as the reference) and with
// libjpeg-turbo in WebAssembly (the one it uses now), side by side in the same run.
// Runs alone as `deno run -A bench/encoders.ts [--quick]`, or from bench/run.ts.
import codecs from "imagescript/codecs/node/index.js";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { flattenBitmap } from "../lib/pure/ops.ts";
import { photoLike } from "../tests/helpers.ts";

type Encoder = (bitmap: Bitmap) => Promise<Uint8Array>;

const encoders: [string, Encoder][] = [
  ["before: ImageScript native", (bitmap) => {
    const { width, height, data } = flattenBitmap(bitmap);
    return codecs.jpeg.encode_async(data, { width, height, quality: 80 });
  }],
  ["after: libjpeg-turbo (WASM)", (bitmap) => encodeBitmap(bitmap, { type: "jpeg", quality: 80 })],
];

/** One W1 request's image work on the pure backend: scaled decode, Lanczos3, encode. */
async function w1(source: Uint8Array, encode: Encoder): Promise<number> {
  const decoded = await decodeBitmap(source, "jpeg", { minSize: { width: 400, height: 400 } });
  return (await encode(resizeBitmap(decoded, 400, 400))).length;
}

/** Prints images/s and output bytes of W1 with each encoder, and after/before ratios. */
export async function benchEncoders(rounds: number): Promise<void> {
  console.log("\n## Pure backend W1 (4096x4096 JPEG → s,400x0 → jpeg,80): JPEG encoders");
  const source = await encodeBitmap(photoLike(4096, 4096), { type: "jpeg", quality: 90 });
  const seconds = new Map<string, number>(encoders.map(([name]) => [name, 0]));
  const bytes = new Map<string, number>();
  for (const [, encode] of encoders) await w1(source, encode); // warm both
  // Interleaved, so a change in the machine's load falls on both alike.
  for (let round = 0; round < rounds; round++) {
    for (const [name, encode] of encoders) {
      const start = performance.now();
      bytes.set(name, await w1(source, encode));
      seconds.set(name, seconds.get(name)! + (performance.now() - start) / 1000);
    }
  }
  const rate = (name: string) => rounds / seconds.get(name)!;
  for (const [name] of encoders) {
    console.log(
      `${name.padEnd(28)} ${rate(name).toFixed(2).padStart(6)} images/s  ${
        String(bytes.get(name)).padStart(7)
      } bytes`,
    );
  }
  const [before, after] = encoders.map(([name]) => name);
  console.log(
    `after/before: throughput ×${(rate(after) / rate(before)).toFixed(2)}, bytes ×${
      (bytes.get(after)! / bytes.get(before)!).toFixed(2)
    }`,
  );
}

if (import.meta.main) await benchEncoders(Deno.args.includes("--quick") ? 5 : 20);
