import { filters } from "../../filters/mod.ts";
import type { Filter, PlanContext } from "../../filters/filter.ts";
import type { DecodeHint, ShrinkOnLoad } from "../image/backend.ts";
import { fitWithin, type Size } from "../image/bitmap.ts";
import type { ImageLimits } from "../image/limits.ts";
import type { ImageInfo } from "../image/probe.ts";
import { BadRequest, Unprocessable } from "../errors.ts";
import {
  type EncodedType,
  maxEncodePixels,
  maxSides,
  type OutputFormat,
  type SourceFormat,
} from "../image/formats.ts";
import { THUMBHASH_MAX_SIDE } from "../image/placeholders.ts";
import { isTransposed, orientationSteps } from "./orientation.ts";
import type { Step } from "./url.ts";
import { type Made, planCosts, type PlannedWork } from "./costs.ts";
import { holdsResizePass, readsEveryFrame } from "../image/codec_costs.ts";

/** What a worker decides about one request from the source's header, before decoding. */
export interface Plan {
  /** The whole chain: the upright orientation steps, then the request's own. */
  chain: Step[];
  /** The size each step of `chain` receives, planned from the source's full size. */
  inputs: Size[];
  output: Size;
  /** The size the decoder may shrink to, when the first real step shrinks. */
  hint?: DecodeHint;
  /** Whether every frame of an animation is decoded (a GIF result); otherwise only the first. */
  allFrames: boolean;
  /**
   * The output types whose side limit holds the result; the requested type is among them, and
   * `auto` chooses among them once the pixels are known (see `resolveFormat`).
   */
  fitting: ReadonlySet<EncodedType>;
  /** The planned peak bytes of the job (see `planCosts`). */
  bytes: number;
  /** The planned milliseconds of the uninterruptible decode; 0 when the backend can stop it. */
  decodeMs: number;
  /** Whether the result may hold transparency (see `mayHoldAlpha`). */
  alpha: boolean;
  /** What the job's CPU work is made of (see `planCosts`). */
  work: PlannedWork;
}

/** What a request asks planning for. */
export interface PlanRequest {
  chain: readonly Step[];
  format: OutputFormat;
  autoOrient: boolean;
  /** How far the decoder shrinks on load towards the hint (`image.shrinkOnLoad`); `fast` when absent. */
  shrinkOnLoad?: ShrinkOnLoad;
  /**
   * The size of each watermark's image the chain names, from its header, with its format when
   * known: the `wm` filter lists this size among what it makes, and its decode is planned at
   * that format's decoder cost (see `Made`).
   */
  overlays?: Readonly<Record<string, Made>>;
}

export function filterOf(step: Step): Filter<unknown> {
  const filter = filters.get(step.name);
  if (!filter) throw new BadRequest(`Unknown filter "${step.name}"`);
  return filter;
}

/**
 * Plans a request on sizes alone, before any pixel is decoded, and refuses whatever a limit
 * forbids (as imgproxy's fixSize step does): the source's pixels (every decoded frame counted),
 * the frame count of an animation kept whole, the pixels of every image a step makes on its way
 * (fill's scaled size before its crop included, every frame counted), and a result that the
 * output format cannot hold. `auto` is left to choose among the formats that can.
 *
 * @throws {Unprocessable} when the source is over `maxSourcePixels` or `maxFrames`
 * @throws {BadRequest} when a step makes no sense for the size, or makes an image over
 * `maxOutputPixels`, or the result is too wide or tall for its format
 */
export function planTransform(
  request: PlanRequest,
  source: ImageInfo & { format?: SourceFormat },
  limits: ImageLimits,
  backend: { name: string; maxSide?: number } = { name: "" },
): Plan {
  const sourceFrames = source.frames ?? 1;
  const allFrames = sourceFrames > 1 &&
    (request.format.type === "gif" || request.format.type === "auto");
  const frames = allFrames ? sourceFrames : 1;
  const framesRead = readsEveryFrame(backend.name, source.format) ? sourceFrames : frames;
  const why = allFrames ? "for an animated result" : `on the ${backend.name} backend`;
  checkDecodeLimits("The source", source, framesRead, limits, why);
  const upright = request.autoOrient ? orientationSteps(source.orientation) : [];
  const chain = [...upright, ...request.chain];
  const context: PlanContext = {
    holdsResizePass: holdsResizePass(backend.name),
    overlaySize(name) {
      const size = request.overlays?.[name];
      if (!size) throw new Error(`The image of watermark "${name}" did not come with the job`);
      return size;
    },
  };
  const { inputs, made, output } = planSizes(
    chain,
    source,
    limits.maxOutputPixels,
    frames,
    backend,
    context,
  );
  const first = upright.length;
  const minSize = chain[first]
    ? filterOf(chain[first]).decodeHint?.(inputs[first], chain[first].params)
    : infoHint(request.format, output);
  const transposed = upright.length > 0 && isTransposed(source.orientation);
  const hint: DecodeHint | undefined = minSize && {
    minSize: transposed ? { width: minSize.height, height: minSize.width } : minSize,
    shrinkOnLoad: request.shrinkOnLoad ?? "fast",
    // `info` samples the result at 100 px: no margin against aliasing is needed for that.
    ...(request.format.type === "info" ? { margin: 1 } : {}),
  };
  const alpha = mayHoldAlpha(source.format, chain);
  const costs = planCosts(
    {
      source,
      frames,
      framesRead,
      hint,
      inputs,
      made,
      output,
      alpha,
      passes: chain.map((step) => filterOf(step).passes?.(step.params) ?? 1),
    },
    { format: request.format, fitting: fittingFormats(request.format, output, allFrames) },
    limits,
    backend.name,
  );
  return { chain, inputs, output, hint, allFrames, alpha, ...costs };
}

/**
 * Whether the result may hold transparency, from the header alone: any source but a JPEG may
 * (a PNG's colour type would not tell a `tRNS` chunk), or a step that adds it (a clear `pad`).
 * An unknown format counts as one that may.
 */
function mayHoldAlpha(format: SourceFormat | undefined, chain: readonly Step[]): boolean {
  return format !== "jpeg" ||
    chain.some((step) => filterOf(step).addsAlpha?.(step.params) ?? false);
}

/**
 * Refuses an image about to be decoded (the source, a watermark's mark) when the frames its
 * reader decodes, or its pixels over those frames, are over the limits; `why` says what makes
 * it read more than one frame.
 *
 * @throws {Unprocessable} naming `subject`
 */
export function checkDecodeLimits(
  subject: string,
  size: Size,
  framesRead: number,
  limits: Pick<ImageLimits, "maxFrames" | "maxSourcePixels">,
  why: string,
): void {
  if (framesRead > limits.maxFrames) {
    throw new Unprocessable(
      `${subject} has ${framesRead} frames: at most ${limits.maxFrames} allowed ${why}`,
    );
  }
  if (size.width * size.height * framesRead > limits.maxSourcePixels) {
    const what = framesRead > 1 ? ` in each of ${framesRead} frames` : "";
    throw new Unprocessable(
      `${subject} is ${size.width}x${size.height} pixels${what}: at most ${limits.maxSourcePixels} allowed in all`,
    );
  }
}

/**
 * The input size of each step, the images it makes on its way (its intermediates), and the
 * result's size; refuses a step that makes (on its way or as its result) an image over
 * `maxPixels` in all of its `frames`.
 */
function planSizes(
  chain: readonly Step[],
  source: Size,
  maxPixels: number,
  frames: number,
  backend: { name: string; maxSide?: number },
  context: PlanContext,
): { inputs: Size[]; made: Size[][]; output: Size } {
  const inputs: Size[] = [];
  const allMade: Size[][] = [];
  let size: Size = source;
  for (const step of chain) {
    inputs.push(size);
    const filter = filterOf(step);
    const intermediates = filter.intermediates?.(size, step.params, context) ?? [];
    size = filter.size(size, step.params);
    allMade.push(intermediates);
    for (const made of [...intermediates, size]) {
      const side = backend.maxSide;
      if (side !== undefined && (made.width > side || made.height > side)) {
        throw new BadRequest(
          `Filter "${step.name}" would make a ${made.width}x${made.height} image: the ${backend.name} backend allows at most ${side} pixels per side`,
        );
      }
      if (made.width * made.height * frames > maxPixels) {
        const what = frames > 1 ? ` in each of ${frames} frames` : "";
        throw new BadRequest(
          `Filter "${step.name}" would make a ${made.width}x${made.height} image${what}: at most ${maxPixels} pixels allowed in all (image.maxOutputPixels)`,
        );
      }
    }
  }
  return { inputs, made: allMade, output: size };
}

/**
 * `info` with no filter of its own needs no more than its sample of the (upright) result: the
 * decoder may shrink to that.
 */
function infoHint(format: OutputFormat, upright: Size): Size | undefined {
  return format.type === "info" ? fitWithin(upright, THUMBHASH_MAX_SIDE) : undefined;
}

function refuse(type: EncodedType, size: Size): never {
  const side = maxSides.get(type)!;
  const result = `${size.width}x${size.height}`;
  if (size.width <= side && size.height <= side) {
    const pixels = maxEncodePixels.get(type);
    throw new BadRequest(
      `Format "${type}" allows at most ${pixels} pixels: the result would be ${result}`,
    );
  }
  throw new BadRequest(
    `Format "${type}" allows at most ${side} pixels per side: the result would be ${result}`,
  );
}

/** Whether a format's encoder can take an image of `size`: its sides, and its pixels. */
function holds(type: EncodedType, size: Size): boolean {
  const side = maxSides.get(type)!;
  const pixels = maxEncodePixels.get(type) ?? Infinity;
  return size.width <= side && size.height <= side && size.width * size.height <= pixels;
}

/**
 * The types that can hold a result of `size`. A named format that cannot is refused; so is
 * `auto` when no candidate it could end with can: GIF for an animation, PNG (which holds every
 * size the pixel limits allow) otherwise. `info` encodes no image and needs none of them.
 */
function fittingFormats(format: OutputFormat, size: Size, animated: boolean): Set<EncodedType> {
  const fitting = new Set([...maxSides.keys()].filter((type) => holds(type, size)));
  if (format.type === "info") return fitting;
  const needed = format.type !== "auto" ? format.type : animated ? "gif" : "png";
  if (!fitting.has(needed)) refuse(needed, size);
  return fitting;
}
