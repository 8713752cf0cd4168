import type { ApplyContext } from "../../filters/filter.ts";
import type { Backend } from "../image/backend.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { ImageLimits } from "../image/limits.ts";
import { Unavailable, Unprocessable } from "../errors.ts";
import type { Size } from "../image/bitmap.ts";
import {
  type EncodedType,
  type OutputFormat,
  resolveFormat,
  worstEncodeMsPerPixel,
} from "../image/formats.ts";
import { checkEncoded } from "../image/encoded.ts";
import { probeImage } from "../image/probe.ts";
import { sniffFormat } from "../image/sniff.ts";
import { describeResult } from "./info.ts";
import { filterOf, planTransform } from "./plan.ts";
import type { Step } from "./url.ts";

/** What a worker is asked to do with one source, under which limits. */
export interface Transform {
  chain: Step[];
  format: OutputFormat;
  limits: ImageLimits;
  /** Turn the image upright by its EXIF orientation before the chain. */
  autoOrient: boolean;
  /**
   * The images of the watermarks the chain names, by watermark name. Added to the task after
   * its identity is computed: their validators, not their bytes, are part of the identity.
   */
  overlays?: Readonly<Record<string, Uint8Array>>;
  /** When the request gives up (`Date.now()` milliseconds), for backends that can stop then. */
  deadline?: number;
}

/**
 * Refuses to start an encode nothing can interrupt (one WebAssembly call) when, at its worst
 * speed, it would run past the request's deadline: the client would get its 503 while the
 * worker kept a core busy for seconds.
 *
 * @throws {Unavailable} when too little time is left
 */
function startsInTime(format: OutputFormat, size: Size, deadline?: number): void {
  const perPixel = worstEncodeMsPerPixel.get(format.type as EncodedType);
  if (perPixel === undefined || deadline === undefined) return;
  const needed = size.width * size.height * perPixel;
  if (Date.now() + needed > deadline) {
    throw new Unavailable(
      `Too little time is left to encode a ${size.width}x${size.height} ${format.type} (up to ${
        Math.ceil(needed)
      } ms): try again shortly`,
    );
  }
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
          `The image of watermark "${name}" is not a JPEG, PNG, GIF, TIFF, WebP, BMP or AVIF image`,
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
    throw new Unprocessable("The source is not a JPEG, PNG, GIF, TIFF, WebP, BMP or AVIF image");
  }
  const probed = probeImage(bytes, format);
  const plan = planTransform(task, probed, task.limits, backend);
  const canvas = await backend.decode(bytes, format, {
    hint: plan.hint,
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
    if (task.format.type === "info") {
      const source = { format, probed, bytes: bytes.length };
      return await describeResult(canvas, plan.output, source, task.format.blurhashComponents);
    }
    const output = await resolveFormat(task.format, canvas, plan.fitting);
    startsInTime(output, plan.output, task.deadline);
    return checkEncoded(await backend.encode(canvas, output), output.type);
  } finally {
    canvas.dispose();
  }
}
