// The per-pixel cost of every codec call that nothing can stop once it has started (pure's
// WebAssembly decoders and encoders, deflate, AVIF and WebP on every backend): CPU nanoseconds
// and peak bytes per pixel, per backend. Planning (lib/image/codec_costs.ts) holds each job's
// codec calls to `http.timeout` and `image.maxJobBytes` with the table printed here; each line
// shows the measured figure next to the default the code plans with.
// Each measurement runs in a fresh process, whose peak RSS is reset just before the call
// (/proc/self/clear_refs), so the bytes are the call's own working set, its result included.
// Runs alone as `deno run -A bench/codec_costs.ts [--quick] [--backends=pure,…]`, or from
// bench/run.ts.
import { type BackendName, parseConfig } from "../lib/config/config.ts";
import { codecCost } from "../lib/image/codec_costs.ts";
import type { EncodedType, SourceFormat } from "../lib/image/formats.ts";
import { openBackend } from "../lib/pool/backends.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { photoLike } from "../tests/helpers.ts";

type Operation = { kind: "decode"; format: SourceFormat } | { kind: "encode"; format: EncodedType };

const operations: Operation[] = [
  { kind: "decode", format: "jpeg" },
  { kind: "decode", format: "png" },
  { kind: "decode", format: "webp" },
  { kind: "decode", format: "avif" },
  { kind: "encode", format: "jpeg" },
  { kind: "encode", format: "png" },
  { kind: "encode", format: "webp" },
  { kind: "encode", format: "avif" },
];

interface Measured {
  nsPerPixel: number;
  bytesPerPixel: number;
}

function status(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
    Deno.readTextFileSync("/proc/self/status"),
  );
  return Number(match![1]) * 1024;
}

function cpuSeconds(): number {
  // The whole process: libvips works on threads of its own.
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One call of `operation` on a `side`² photo-like image, in this process. */
async function measureHere(backend: BackendName, operation: Operation, side: number) {
  const limits = parseConfig({}, ".").image;
  const codec = await openBackend(backend, limits, 1);
  await codec.warmUp?.();
  const format = operation.format;
  const source = await encodeBitmap(photoLike(side, side), {
    type: operation.kind === "decode" ? format as EncodedType : "png",
    quality: 90,
  });
  const small = await encodeBitmap(photoLike(64, 64), {
    type: operation.kind === "decode" ? format as EncodedType : "png",
    quality: 90,
  });
  const options = { allFrames: false };
  const output = { type: format as EncodedType, quality: 75 };
  // The first call of a codec compiles or loads it: not a cost of the pixels. It is made on a
  // small image: a WebAssembly memory never shrinks, so a first call at full size would hide
  // what the measured one grows it by.
  const warm = await codec.decode(
    small,
    operation.kind === "decode" ? operation.format : "png",
    options,
  );
  if (operation.kind === "encode") await codec.encode(warm, output);
  warm.dispose();
  const canvas = operation.kind === "encode"
    ? await codec.decode(source, "png", options)
    : undefined;
  if (canvas) await canvas.hasAlpha(); // vips runs its queue here: the decode is not the encode
  Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  const rss = status("VmRSS");
  const cpu = cpuSeconds();
  if (canvas) await codec.encode(canvas, output);
  else {
    const decoded = await codec.decode(source, format as SourceFormat, options);
    await decoded.hasAlpha(); // vips decodes lazily: this runs its pipeline
    decoded.dispose();
  }
  const seconds = cpuSeconds() - cpu;
  const pixels = side * side;
  return { nsPerPixel: (seconds * 1e9) / pixels, bytesPerPixel: (status("VmHWM") - rss) / pixels };
}

/** `measureHere` in a fresh process, so no earlier call's memory hides this one's. */
async function measure(backend: BackendName, operation: Operation, side: number) {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      import.meta.filename!,
      `--one=${backend}:${operation.kind}:${operation.format}:${side}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(new TextDecoder().decode(stderr).slice(-300));
  return JSON.parse(new TextDecoder().decode(stdout)) as Measured;
}

/** Prints the measured costs next to the planned ones, backend by backend. */
export async function benchCodecCosts(quick: boolean, backends: readonly BackendName[]) {
  const side = quick ? 1024 : 2048;
  console.log(
    `\n## Uninterruptible codec calls, per pixel (${side}x${side} photo-like, CPU ns and peak bytes; planned: lib/image/codec_costs.ts)`,
  );
  for (const backend of backends) {
    for (const operation of operations) {
      const cost = codecCost(backend, operation.kind, operation.format);
      if (!cost) continue;
      const label = `${backend.padEnd(15)} ${operation.kind} ${operation.format.padEnd(5)}`;
      try {
        const measured = await measure(backend, operation, side);
        console.log(
          `${label} ${measured.nsPerPixel.toFixed(0).padStart(5)} ns/px (planned ${
            String(cost.nsPerPixel).padStart(4)
          })  ${measured.bytesPerPixel.toFixed(1).padStart(5)} B/px (planned ${
            String(cost.bytesPerPixel).padStart(3)
          })`,
        );
      } catch (error) {
        console.log(`${label} skipped (${(error as Error).message.split("\n")[0]})`);
      }
    }
  }
}

const one = Deno.args.find((arg) => arg.startsWith("--one="))?.slice(6).split(":");
if (import.meta.main && one) {
  const [backend, kind, format, side] = one;
  const operation = { kind, format } as Operation;
  console.log(JSON.stringify(await measureHere(backend as BackendName, operation, Number(side))));
} else if (import.meta.main) {
  const chosen = Deno.args.find((a) => a.startsWith("--backends="))?.slice(11).split(",");
  await benchCodecCosts(
    Deno.args.includes("--quick"),
    (chosen ?? ["pure", "imagemagick", "graphicsmagick", "vips"]) as BackendName[],
  );
}
