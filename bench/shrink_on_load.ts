// `image.shrinkOnLoad`, "fast" against "quality", on every backend: the PSNR of the result
// against the same backend's full decode resized with Lanczos3, on real photographs at several
// sizes and on a zone plate (where the aliasing left past the new Nyquist shows too), and the
// CPU time per image. `deno run -A bench/shrink_on_load.ts [--quick] [--backends=a,b]` runs it
// alone; the photographs are Debian's `mate-backgrounds` (skipped when it is not installed).
import sharp from "sharp";
import type { Backend, ShrinkOnLoad } from "../lib/image/backend.ts";
import type { Bitmap, Size } from "../lib/image/bitmap.ts";
import { createMagickBackend } from "../lib/magick/backend.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { pureBackend } from "../lib/pure/backend.ts";
import { createVipsBackend } from "../lib/vips/backend.ts";
import { aliasing, psnr, zonePlate } from "../tests/helpers.ts";
import { ownCpuMs } from "./process.ts";

const PHOTOS = "/usr/share/backgrounds/mate";

/** Decode (with the hint under `policy`, or in full without one), Lanczos3 resize, as pixels. */
async function resized(
  backend: Backend,
  bytes: Uint8Array,
  target: Size,
  policy?: ShrinkOnLoad,
): Promise<{ pixels: Bitmap; decoded: Size }> {
  const hint = policy && { minSize: target, shrinkOnLoad: policy };
  const canvas = await backend.decode(bytes, "jpeg", { hint, allFrames: false });
  try {
    const decoded = { width: canvas.width, height: canvas.height };
    canvas.resize(target);
    const png = await backend.encode(canvas, { type: "png", quality: 80 });
    return { pixels: await decodeBitmap(png, "png"), decoded };
  } finally {
    canvas.dispose();
  }
}

/**
 * The full-decode reference. libvips shrinks on load inside the resize whatever the policy,
 * so its reference resizes pixels decoded in full beforehand.
 */
async function reference(backend: Backend, bytes: Uint8Array, target: Size): Promise<Bitmap> {
  if (backend.name !== "vips") return (await resized(backend, bytes, target)).pixels;
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const png = await sharp(data, { raw: info }).resize(target.width, target.height, {
    fit: "fill",
    kernel: "lanczos3",
  }).png().toBuffer();
  return await decodeBitmap(new Uint8Array(png), "png");
}

interface Case {
  name: string;
  bytes: Uint8Array;
  source: Size;
  target: Size;
  plate: boolean;
}

async function photoCase(file: string, width: number): Promise<Case | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(`${PHOTOS}/${file}`);
  } catch {
    return undefined;
  }
  const { width: w, height: h } = await sharp(bytes).metadata();
  const target = { width, height: Math.round((h! * width) / w!) };
  const name = `${file.split("/").pop()} ${w}x${h} → ${target.width}x${target.height}`;
  return { name, bytes, source: { width: w!, height: h! }, target, plate: false };
}

async function plateCase(source: Size, target: Size): Promise<Case> {
  const bytes = new Uint8Array(
    await sharp(zonePlate(source.width, source.height), { raw: { ...source, channels: 3 } })
      .jpeg({ quality: 95, chromaSubsampling: "4:4:4" }).toBuffer(),
  );
  const name = `zone plate ${source.width}x${source.height} → ${target.width}x${target.height}`;
  return { name, bytes, source, target, plate: true };
}

function open(name: string): Backend | undefined {
  try {
    if (name === "pure") return pureBackend;
    if (name === "vips") return createVipsBackend({ maxSourcePixels: 1e8 });
    return createMagickBackend(name as "imagemagick", { maxSourcePixels: 1e8 });
  } catch (error) {
    console.log(`${name}: skipped (${(error as Error).message})`);
    return undefined;
  }
}

export async function runShrinkOnLoadPolicy(quick: boolean, backends: string[]): Promise<void> {
  console.log("\n## image.shrinkOnLoad: fast vs quality");
  console.log(
    "(PSNR against the same backend's full decode + Lanczos3; CPU per image of decode, resize and PNG encode; zone plates: aliasing left past the new Nyquist, 0 is clean)",
  );
  const photos = await Promise.all([
    photoCase("abstract/Elephants_5640x3172.jpg", 400),
    photoCase("abstract/Elephants_3840x2160.jpg", 512),
    photoCase("nature/Garden.jpg", 512),
    photoCase("nature/Wood.jpg", 800),
    photoCase("nature/LadyBird.jpg", 200),
    photoCase("nature/Storm.jpg", 1000),
  ]);
  const cases = photos.filter((c): c is Case => c !== undefined);
  if (cases.length < photos.length) {
    console.log(`(photographs skipped: apt-get install mate-backgrounds puts them in ${PHOTOS})`);
  }
  cases.push(
    await plateCase({ width: 2040, height: 1356 }, { width: 512, height: 340 }),
    await plateCase({ width: 4096, height: 4096 }, { width: 400, height: 400 }),
  );
  const runs = quick ? 2 : 5;
  for (const name of backends) {
    const backend = open(name);
    if (!backend) continue;
    console.log(`\n${name}`);
    for (const { name: label, bytes, source, target, plate } of cases) {
      const full = await reference(backend, bytes, target);
      const cells: string[] = [];
      for (const policy of ["fast", "quality"] as const) {
        const { pixels, decoded } = await resized(backend, bytes, target, policy);
        const before = ownCpuMs();
        for (let i = 0; i < runs; i++) await resized(backend, bytes, target, policy);
        const cpu = (ownCpuMs() - before) / runs;
        const read = name === "vips" ? "" : ` read ${decoded.width}x${decoded.height}`;
        const alias = plate ? ` aliasing ${aliasing(pixels, source).toFixed(2)}` : "";
        cells.push(
          `${policy} ${psnr(pixels, full).toFixed(1)} dB${alias} ${cpu.toFixed(0)} ms${read}`,
        );
      }
      const fullAlias = plate
        ? `  (full decode: aliasing ${aliasing(full, source).toFixed(2)})`
        : "";
      console.log(`  ${label.padEnd(44)} ${cells.join("  |  ")}${fullAlias}`);
    }
  }
}

if (import.meta.main) {
  const backends = Deno.args.find((a) => a.startsWith("--backends="))?.slice(11).split(",") ??
    ["pure", "imagemagick", "graphicsmagick", "vips"];
  await runShrinkOnLoadPolicy(Deno.args.includes("--quick"), backends);
}
