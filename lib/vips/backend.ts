import sharp from "sharp";
import type { Backend } from "../image/backend.ts";
import type { ImageLimits } from "../image/limits.ts";
import { VipsCanvas } from "./canvas.ts";
import { encodeCanvas } from "./encode.ts";
import { Engine, type Input } from "./engine.ts";

/**
 * The libvips loaders of the formats the server reads (BMP has none in sharp's libvips). Every
 * other loader is blocked: the bytes are sniffed before, but libvips picks its loader from the
 * bytes itself, and a format nobody asked for should never reach a decoder.
 */
const LOADERS = [
  "VipsForeignLoadJpegBuffer",
  "VipsForeignLoadPngBuffer",
  "VipsForeignLoadNsgifBuffer",
  "VipsForeignLoadTiffBuffer",
  "VipsForeignLoadWebpBuffer",
  // AVIF: sharp's libvips reads it through libheif with an AV1 decoder.
  "VipsForeignLoadHeifBuffer",
];

/**
 * A backend on libvips through sharp, which brings its own libvips from npm. One thread per
 * worker and no operation cache: the pool runs one job per worker and sources rarely repeat.
 *
 * @example
 * ```ts
 * const backend = createVipsBackend({ maxSourcePixels: 50_000_000 });
 * const canvas = await backend.decode(bytes, "jpeg", { allFrames: false });
 * ```
 */
export function createVipsBackend(
  limits: Pick<ImageLimits, "maxSourcePixels">,
  firstInProcess = true,
): Backend {
  sharp.concurrency(1);
  sharp.cache(false);
  // libvips' blocked operations are process-wide, and blocking every loader before unblocking
  // ours leaves a moment in which no loader works: a worker started while others run jobs (the
  // spare, a replacement) would fail their decodes then (a 422 seen once in a bench). So only
  // the process's first worker sets them, before any job runs; a job process is alone in its own.
  if (firstInProcess) {
    sharp.block({ operation: ["VipsForeignLoad"] });
    sharp.unblock({ operation: LOADERS });
  }
  const engine = new Engine(sharp, limits.maxSourcePixels);
  return {
    name: "vips",
    jpegDecoder: "libjpeg",
    // The decode hint's size is not needed: the first resize reads the source itself, and
    // libvips chooses the reduced scale from the exact target, under the hint's policy.
    async decode(bytes, format, { allFrames, deadline, hint, probed, cancel }) {
      const animated = format === "gif" && allFrames;
      const source = { kind: "source" as const, bytes, format, animated };
      // An 8-bit JPEG's probe says all libvips' header would (one frame, 8-bit samples): its
      // read, a round trip through sharp's threads, is saved.
      const { width, height, pageHeight, pages, delay, loop, depth, hasProfile } =
        format === "jpeg" && probed?.bitDepth === 8
          ? {
            width: probed.width,
            height: probed.height,
            pageHeight: undefined,
            pages: 1,
            delay: undefined,
            loop: undefined,
            depth: "uchar",
            hasProfile: false,
          }
          : await engine.metadata(source);
      const frames = animated ? pages ?? 1 : 1;
      const size = { width: width!, height: pageHeight ?? height! };
      // sharp turns a 16-bit image with a profile into Display P3 and then only narrows its
      // samples to 8 bits: an sRGB output profile finishes the conversion. Decoded at once, so
      // the profile never reaches an output.
      const input: Input = hasProfile && depth === "ushort"
        ? {
          kind: "pixels",
          pixels: await engine.pixels(source, (image) => image.withIccProfile("srgb"), deadline),
        }
        : source;
      return new VipsCanvas(
        engine,
        input,
        size,
        frames,
        { delays: delay, loop },
        deadline,
        hint,
        cancel,
      );
    },
    encode(canvas, format) {
      return encodeCanvas(canvas as VipsCanvas, format);
    },
  };
}
