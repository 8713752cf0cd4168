import { filters } from "../../filters/mod.ts";
import type { Filter } from "../../filters/filter.ts";
import type { Backend, DecodeHint } from "../image/backend.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { Size } from "../image/bitmap.ts";
import type { ImageLimits } from "../image/limits.ts";
import { BadRequest, Unprocessable } from "../errors.ts";
import { type OutputFormat, resolveFormat } from "../image/formats.ts";
import { isTransposed, orientationSteps } from "./orientation.ts";
import { probeImage } from "../image/probe.ts";
import { sniffFormat } from "../image/sniff.ts";
import type { Step } from "./url.ts";

/** What a worker is asked to do with one source, under which limits. */
export interface Transform {
  chain: Step[];
  format: OutputFormat;
  limits: ImageLimits;
  /** Turn the image upright by its EXIF orientation before the chain. */
  autoOrient: boolean;
}

function filterOf(step: Step): Filter<unknown> {
  const filter = filters.get(step.name);
  if (!filter) throw new BadRequest(`Unknown filter "${step.name}"`);
  return filter;
}

/**
 * Walks the chain on sizes alone, before any pixel is decoded: refuses outputs (and
 * intermediate images) over the pixel limit, and finds the size the decoder may shrink to.
 * The chain may start with `upright` orientation steps; the decode hint then comes from the
 * first step after them, turned back into the stored image's axes.
 *
 * @throws {BadRequest} when a step makes no sense for the size or exceeds the limit
 */
export function planChain(
  chain: readonly Step[],
  source: Size,
  limits: ImageLimits,
  upright: { steps: number; transposed: boolean } = { steps: 0, transposed: false },
) {
  let size = source;
  const inputs: Size[] = [];
  for (const step of chain) {
    inputs.push(size);
    size = filterOf(step).size(size, step.params);
    if (size.width * size.height > limits.maxOutputPixels) {
      throw new BadRequest(
        `Filter "${step.name}" would make a ${size.width}x${size.height} image: at most ${limits.maxOutputPixels} pixels allowed`,
      );
    }
  }
  const first = chain[upright.steps];
  const oriented = inputs[upright.steps];
  const minSize = first && filterOf(first).decodeHint?.(oriented, first.params);
  const hint: DecodeHint | undefined = minSize && {
    minSize: upright.transposed ? { width: minSize.height, height: minSize.width } : minSize,
  };
  return { inputs, output: size, hint };
}

/**
 * Decodes, filters and encodes one source: the whole image work of a request.
 *
 * @throws {Unprocessable} when the source is not an image we can decode or is too large
 * @throws {BadRequest} when the chain does not fit the image
 * @throws {Cancelled} once `cancel` is cancelled (checked between steps and inside them)
 */
export async function runTransform(
  backend: Backend,
  task: Transform,
  bytes: Uint8Array,
  cancel: CancelToken = neverCancelled,
): Promise<Uint8Array<ArrayBuffer>> {
  const { limits } = task;
  const format = sniffFormat(bytes);
  if (!format) {
    throw new Unprocessable("The source is not a JPEG, PNG, GIF, TIFF, WebP or BMP image");
  }
  const info = probeImage(bytes, format);
  const pixels = info.width * info.height * (info.frames ?? 1);
  if (pixels > limits.maxSourcePixels) {
    throw new Unprocessable(
      `The source is ${info.width}x${info.height} pixels: at most ${limits.maxSourcePixels} allowed`,
    );
  }
  const upright = task.autoOrient ? orientationSteps(info.orientation) : [];
  const chain = [...upright, ...task.chain];
  const { inputs, hint } = planChain(chain, info, limits, {
    steps: upright.length,
    transposed: upright.length > 0 && isTransposed(info.orientation),
  });
  const allFrames = task.format.type === "gif" || task.format.type === "auto";
  const canvas = await backend.decode(bytes, format, { hint, allFrames, cancel });
  try {
    chain.forEach((step, i) => {
      cancel.check();
      filterOf(step).apply(canvas, step.params, inputs[i]);
    });
    return await backend.encode(canvas, resolveFormat(task.format, canvas));
  } finally {
    canvas.dispose();
  }
}
