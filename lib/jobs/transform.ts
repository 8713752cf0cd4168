import type { Backend } from "../image/backend.ts";
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
}

/**
 * Decodes, filters and encodes one source: the whole image work of a request.
 *
 * @throws {Unprocessable} when the source is not an image we can decode or is too large
 * @throws {BadRequest} when the chain does not fit the image, a limit or the output format
 * @throws {Error} when the encoder writes nothing, or not the format asked for (an internal
 * error: the result must not be served or cached)
 */
export async function runTransform(
  backend: Backend,
  task: Transform,
  bytes: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new Unprocessable("The source is not a JPEG, PNG, GIF, TIFF, WebP or BMP image");
  }
  const plan = planTransform(task, probeImage(bytes, format), task.limits);
  const canvas = await backend.decode(bytes, format, {
    hint: plan.hint,
    allFrames: plan.allFrames,
  });
  try {
    plan.chain.forEach((step, i) => filterOf(step).apply(canvas, step.params, plan.inputs[i]));
    const output = resolveFormat(task.format, canvas, plan.fitting);
    return checkEncoded(await backend.encode(canvas, output), output.type);
  } finally {
    canvas.dispose();
  }
}
