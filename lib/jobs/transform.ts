import type { ApplyContext } from "../../filters/filter.ts";
import type { Backend, ShrinkOnLoad } from "../image/backend.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { ImageLimits } from "../image/limits.ts";
import { Unprocessable } from "../errors.ts";
import { type OutputFormat, resolveFormat } from "../image/formats.ts";
import { checkEncoded } from "../image/encoded.ts";
import { probeImage } from "../image/probe.ts";
import { sniffFormat } from "../image/sniff.ts";
import { filterOf, planTransform } from "./plan.ts";
import type { Step } from "./url.ts";

/** What a worker is asked to do with one source, under which limits. */
export interface Transform {
  chain: Step[];
  format: OutputFormat;
  limits: ImageLimits;
  /** Turn the image upright by its EXIF orientation before the chain. */
  autoOrient: boolean;
  /** How far the decoder shrinks on load towards the plan's hint. */
  shrinkOnLoad: ShrinkOnLoad;
  /**
   * The images of the watermarks the chain names, by watermark name. Added to the task after
   * its identity is computed: their validators, not their bytes, are part of the identity.
   */
  overlays?: Readonly<Record<string, Uint8Array>>;
  /** When the request gives up (`Date.now()` milliseconds), for backends that can stop then. */
  deadline?: number;
}

/** What filters may use while they run: the watermark images that came with the task. */
function applyContext(backend: Backend, task: Transform): ApplyContext {
  return {
    overlay(name) {
      const bytes = task.overlays?.[name];
      if (!bytes) throw new Error(`The image of watermark "${name}" did not come with the job`);
      const format = sniffFormat(bytes);
      if (!format) {
        throw new Unprocessable(
          `The image of watermark "${name}" is not a JPEG, PNG, GIF, TIFF, WebP or BMP image`,
        );
      }
      const { width, height } = probeImage(bytes, format);
      if (width * height > task.limits.maxSourcePixels) {
        throw new Unprocessable(
          `The image of watermark "${name}" is ${width}x${height} pixels: at most ${task.limits.maxSourcePixels} allowed`,
        );
      }
      return backend.decode(bytes, format, { allFrames: false });
    },
  };
}

/**
 * Decodes, filters and encodes one source: the whole image work of a request.
 *
 * @throws {Unprocessable} when the source is not an image we can decode or is too large
 * @throws {BadRequest} when the chain does not fit the image, a limit or the output format
 * @throws {Error} when the encoder writes nothing, or not the format asked for (an internal
 * error: the result must not be served or cached)
 * @throws {Cancelled} once `cancel` is cancelled (checked between steps and inside them)
 */
export async function runTransform(
  backend: Backend,
  task: Transform,
  bytes: Uint8Array,
  cancel: CancelToken = neverCancelled,
): Promise<Uint8Array<ArrayBuffer>> {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new Unprocessable("The source is not a JPEG, PNG, GIF, TIFF, WebP or BMP image");
  }
  const plan = planTransform(task, probeImage(bytes, format), task.limits, backend);
  const canvas = await backend.decode(bytes, format, {
    hint: plan.hint && { ...plan.hint, shrinkOnLoad: task.shrinkOnLoad },
    allFrames: plan.allFrames,
    deadline: task.deadline,
    cancel,
  });
  try {
    const context = applyContext(backend, task);
    for (const [i, step] of plan.chain.entries()) {
      cancel.check();
      await filterOf(step).apply(canvas, step.params, plan.inputs[i], context);
    }
    cancel.check();
    const output = await resolveFormat(task.format, canvas, plan.fitting);
    return checkEncoded(await backend.encode(canvas, output), output.type);
  } finally {
    canvas.dispose();
  }
}
