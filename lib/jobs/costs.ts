import type { DecodeHint } from "../image/backend.ts";
import type { Size } from "../image/bitmap.ts";
import { codecCost, heldBytesPerPixel, heldStripCopies } from "../image/codec_costs.ts";
import { jpegScale } from "../image/jpeg_scale.ts";
import type { EncodedType, OutputFormat, SourceFormat } from "../image/formats.ts";
import type { ImageLimits } from "../image/limits.ts";
import { BadRequest, Unprocessable } from "../errors.ts";

/** The sizes planning found, from the source's header and the chain. */
export interface PlannedSizes {
  /**
   * `stripBytes`: a TIFF's largest strip or tile, decoded; `progressiveScans`: a progressive
   * JPEG's scans (see `ImageInfo`).
   */
  source: Size & { format?: SourceFormat; stripBytes?: number; progressiveScans?: number };
  /** Frames kept: every frame of an animation kept whole, else 1. */
  frames: number;
  /** Frames the decoder reads, when more than it keeps (see `readsEveryFrame`). */
  framesRead?: number;
  hint?: DecodeHint;
  /** What each step receives, and what it makes on its way (`Filter.intermediates`). */
  inputs: Size[];
  made: Made[][];
  output: Size;
  /** Whether the result may hold transparency, which some encoders pay for (WebP's alpha plane). */
  alpha?: boolean;
  /** Each step's passes over its pixels (`Filter.passes`); 1 where absent. */
  passes?: number[];
}

/**
 * The work a job plans, in units a CPU estimate multiplies out (see lib/jobs/work.ts): what it
 * reads, what its decode and steps touch, and what it encodes as which types.
 */
export interface PlannedWork {
  /** The pixels decoded, plus each step's input, output and scratch images times its passes. */
  pixelPasses: number;
  /** The pixels encoded, every frame counted. */
  encodedPixels: number;
  /** The types the result may be encoded as (several for `auto`; none for `info`). */
  types: EncodedType[];
}

/**
 * An image a step makes on its way; one with a `format` is decoded there (a watermark's mark,
 * whose size planning is given with its format), and costs what its decoder needs for the
 * `frames` it reads (1 unless the reader decodes every frame, see `readsEveryFrame`).
 */
export type Made = Size & { format?: SourceFormat; frames?: number };

/**
 * The outputs refused up front when their encode alone cannot finish within the timeout: one
 * WebAssembly or library call each on every backend (JPEG XL always WebAssembly), and the slowest per pixel. A PNG or JPEG
 * that long is not refused (a deadline stops the steps before it, and short timeouts are how
 * heavy requests are tried); the worker starts it only when it fits before the deadline.
 */
const REFUSED_FOR_TIME: ReadonlySet<EncodedType> = new Set(["avif", "webp", "jxl"]);

const MiB = 1024 * 1024;
const area = (size: Size) => size.width * size.height;
const mib = (bytes: number) => `${Math.ceil(bytes / MiB)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sizeOf = (size: Size) => `${size.width}x${size.height}`;

/**
 * The size `backend`'s decoder returns for the source: a JPEG at the scale the backend decodes
 * it for the hint (see `jpegScale`, which its decoder acts on), anything else whole.
 */
function decodedSize(source: PlannedSizes["source"], backend: string, hint?: DecodeHint): Size {
  if (!hint || source.format !== "jpeg") return source;
  return jpegScale(backend, source, hint).decoded;
}

/**
 * The passes a progressive JPEG's decoder makes over the whole source, whatever the scale it
 * decodes at: its scans refine every coefficient of the full image. Measured on vips, `s,100x0` of
 * a 2500x2000 photo: 12–25 ms from a baseline JPEG, 50–62 from a progressive one of 10 scans.
 * 0 when the probe stopped at the headers, before the scans (a plan of memory only).
 */
function progressivePasses(source: PlannedSizes["source"]): number {
  if (source.format !== "jpeg" || source.progressiveScans === undefined) return 0;
  return area(source) * source.progressiveScans / 10;
}

/**
 * The types `auto` may end with: the first that applies of GIF, JPEG XL, AVIF, WebP, then
 * PNG/JPEG.
 */
function candidates(
  format: OutputFormat,
  fitting: ReadonlySet<EncodedType>,
  frames: number,
): EncodedType[] {
  // `info` encodes nothing: its answer is JSON about a 100 px sample.
  if (format.type === "info") return [];
  if (format.type !== "auto") return [format.type];
  if (frames > 1) return ["gif" as const];
  const types: EncodedType[] = ["png", "jpeg"];
  if (format.webp) types.push("webp");
  if (format.avif) types.push("avif");
  if (format.jxl) types.push("jxl");
  return types.filter((type) => fitting.has(type));
}

/**
 * Plans what a job costs before anything is decoded, and refuses what it cannot afford:
 *
 * - time: an AVIF or WebP encode, which nothing can stop once started (see
 *   lib/image/codec_costs.ts), must plan to finish within `timeoutMs` (`http.timeout`), since a
 *   deadline passing inside it cannot end it. The source's decode is not refused for its time (a source is what it is;
 *   `maxSourcePixels` bounds it): its planned time, `decodeMs`, lets the worker give up before
 *   starting it when the deadline is nearer (see `runTransform`);
 * - memory: the job's peak, the largest of its stages: the decode (the decoded image and the
 *   decoder's working set), each step (its input, what it makes on its way and its output),
 *   and the encode (the image and the encoder's working set), every frame counted, must stay
 *   within `maxJobBytes` (`image.maxJobBytes`).
 *
 * `auto` drops an output type it cannot afford (AVIF, WebP) from `fitting`; a named one, or
 * PNG/JPEG/GIF that `auto` may end with, is refused.
 *
 * @throws {Unprocessable} when decoding the source alone needs more than `maxJobBytes`
 * @throws {BadRequest} when a step or the encode is
 */
export function planCosts(
  sizes: PlannedSizes,
  request: { format: OutputFormat; fitting: Set<EncodedType> },
  limits: Pick<ImageLimits, "maxJobBytes" | "timeoutMs">,
  backend: string,
): { bytes: number; decodeMs: number; fitting: Set<EncodedType>; work: PlannedWork } {
  const { frames, output } = sizes;
  const held = heldBytesPerPixel(backend);
  const maxBytes = limits.maxJobBytes ?? Infinity;
  const maxMs = limits.timeoutMs ?? Infinity;
  const overMemory = (bytes: number, what: string) =>
    `${what} would need about ${mib(bytes)} at its peak: more than image.maxJobBytes (${
      mib(maxBytes)
    })`;
  const overTime = (ms: number, what: string) =>
    `${what} would take about ${seconds(ms)} on the ${backend} backend, which nothing can ` +
    `interrupt: more than http.timeout (${seconds(maxMs)})`;

  /** What decoding `frames` frames of `size` in `format` holds at its peak, its result included. */
  const decodeBytesOf = (size: Size, format: SourceFormat | undefined, frames: number) => {
    const decoder = format && codecCost(backend, "decode", format);
    const firstFrame = Math.max(held, decoder?.bytesPerPixel ?? 0);
    const nextFrames = Math.max(held, decoder?.nextFrameBytesPerPixel ?? firstFrame);
    return area(size) * (firstFrame + (frames - 1) * nextFrames);
  };
  const madeBytes = (size: Made) =>
    size.format ? decodeBytesOf(size, size.format, size.frames ?? 1) : area(size) * held;

  const decoded = decodedSize(sizes.source, backend, sizes.hint);
  const decoder = sizes.source.format && codecCost(backend, "decode", sizes.source.format);
  const framesRead = sizes.framesRead ?? frames;
  const decodedPixels = area(decoded) * framesRead;
  const decodeMs = decoder ? (decodedPixels * decoder.nsPerPixel) / 1e6 : 0;
  const strips = heldStripCopies(backend) * (sizes.source.stripBytes ?? 0);
  const decodeBytes = decodeBytesOf(decoded, sizes.source.format, framesRead) + strips;
  const decoding = `Decoding the ${sizeOf(sizes.source)} source`;
  if (decodeBytes > maxBytes) throw new Unprocessable(overMemory(decodeBytes, decoding));

  let bytes = decodeBytes;
  let pixelPasses = decodedPixels + progressivePasses(sizes.source);
  for (const [i, planned] of sizes.inputs.entries()) {
    const input = i === 0 && sizes.hint ? decoded : planned;
    const result = sizes.inputs[i + 1] ?? output;
    const made = sizes.made[i].reduce((sum, size) => sum + madeBytes(size), 0);
    const step = ((area(input) + area(result)) * held + made) * frames;
    if (step > maxBytes) {
      throw new BadRequest(
        overMemory(step, `Step ${i + 1} (${sizeOf(input)} → ${sizeOf(result)})`),
      );
    }
    bytes = Math.max(bytes, step);
    const touched = area(input) + area(result) + sizes.made[i].reduce((sum, m) => sum + area(m), 0);
    pixelPasses += touched * frames * (sizes.passes?.[i] ?? 1);
  }

  const fitting = new Set(request.fitting);
  const pixels = area(output) * frames;
  const types = candidates(request.format, fitting, frames);
  for (const type of types) {
    const encoder = codecCost(backend, "encode", type, sizes.alpha);
    const ms = encodeMs(backend, type, pixels, sizes.alpha);
    const encode = pixels * (held + (encoder?.bytesPerPixel ?? 0));
    const problem = ms > maxMs && REFUSED_FOR_TIME.has(type)
      ? overTime(ms, `Encoding the ${sizeOf(output)} result as ${type}`)
      : encode > maxBytes
      ? overMemory(encode, `Encoding the ${sizeOf(output)} result as ${type}`)
      : undefined;
    if (problem && request.format.type === "auto" && REFUSED_FOR_TIME.has(type)) {
      fitting.delete(type);
    } else if (problem) {
      throw new BadRequest(problem);
    } else {
      bytes = Math.max(bytes, encode);
    }
  }
  const work = { pixelPasses, encodedPixels: pixels, types: types.filter((t) => fitting.has(t)) };
  return { bytes, decodeMs, fitting, work };
}

/**
 * The planned milliseconds of one uninterruptible encode of `pixels` as `type` (`alpha`: of an
 * image that may hold transparency); 0 when the backend can stop it.
 */
export function encodeMs(
  backend: string,
  type: EncodedType,
  pixels: number,
  alpha = false,
): number {
  const encoder = codecCost(backend, "encode", type, alpha);
  return encoder ? (pixels * encoder.nsPerPixel) / 1e6 : 0;
}
