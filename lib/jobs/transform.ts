import type { ApplyContext } from "../../filters/filter.ts";
import type { Backend, DecodeOptions, ShrinkOnLoad } from "../image/backend.ts";
import type { Size } from "../image/bitmap.ts";
import { Cancelled, type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { ImageLimits } from "../image/limits.ts";
import { Unprocessable } from "../errors.ts";
import {
  type EncodedType,
  type OutputFormat,
  resolveFormat,
  type SourceFormat,
} from "../image/formats.ts";
import { checkEncoded } from "../image/encoded.ts";
import { type ImageInfo, type ProbeDepth, probeImage } from "../image/probe.ts";
import { sniffFormat } from "../image/sniff.ts";
import { describeResult } from "./info.ts";
import { encodeMs } from "./costs.ts";
import { plannedWorkMs } from "./work.ts";
import { readsEveryFrame } from "../image/codec_costs.ts";
import { checkDecodeLimits, filterOf, type Plan, planTransform } from "./plan.ts";
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

/** A watermark's image as it came with the task: its bytes, format and size from its header. */
interface Overlay {
  bytes: Uint8Array;
  format: SourceFormat;
  size: Size;
  /** The frames the backend's reader decodes to get the first (see `readsEveryFrame`). */
  framesRead: number;
}

/**
 * Reads the header of every watermark image that came with the task, so planning knows the
 * size of each before anything is decoded.
 *
 * @throws {Unprocessable} when one is not an image we read, or over `maxSourcePixels`
 */
function readOverlays(task: Transform, backend: string): Map<string, Overlay> {
  const overlays = new Map<string, Overlay>();
  for (const [name, bytes] of Object.entries(task.overlays ?? {})) {
    const format = sniffFormat(bytes);
    if (!format) {
      throw new Unprocessable(
        `The image of watermark "${name}" is not a JPEG, PNG, GIF, TIFF, WebP, BMP or AVIF image`,
      );
    }
    const { width, height, frames = 1 } = probeImage(bytes, format);
    const framesRead = readsEveryFrame(backend, format) ? frames : 1;
    const subject = `The image of watermark "${name}"`;
    checkDecodeLimits(
      subject,
      { width, height },
      framesRead,
      task.limits,
      `on the ${backend} backend`,
    );
    overlays.set(name, { bytes, format, size: { width, height }, framesRead });
  }
  return overlays;
}

/**
 * What filters may use while they run: the watermark images that came with the task, decoded
 * under the job's deadline and cancellation like the source.
 */
function applyContext(
  backend: Backend,
  overlays: Map<string, Overlay>,
  options: Pick<DecodeOptions, "deadline" | "cancel">,
): ApplyContext {
  const find = (name: string) => {
    const overlay = overlays.get(name);
    if (!overlay) throw new Error(`The image of watermark "${name}" did not come with the job`);
    return overlay;
  };
  return {
    overlaySize: (name) => find(name).size,
    overlay(name) {
      const { bytes, format, size } = find(name);
      return backend.decode(bytes, format, { allFrames: false, probed: size, ...options });
    },
  };
}

/**
 * Refuses to start a codec call that nothing can stop when it would still be running at the
 * job's deadline: the client gets its 503 now rather than at the deadline, and the worker is
 * free then instead of after the call.
 *
 * @throws {Cancelled} when `ms` from now is past `deadline`
 */
function checkTimeFor(ms: number, deadline: number | undefined): void {
  if (ms > 0 && deadline !== undefined && Date.now() + ms > deadline) throw new Cancelled();
}

function planFor(
  task: Transform,
  source: ImageInfo & { format: SourceFormat },
  overlays: Map<string, Overlay>,
  backend: Pick<Backend, "name" | "maxSide">,
): Plan {
  const sizes = Object.fromEntries(
    [...overlays].map((
      [name, { size, format, framesRead }],
    ) => [name, { ...size, format, frames: framesRead }]),
  );
  return planTransform({ ...task, overlays: sizes }, source, task.limits, backend);
}

/**
 * The peak bytes the job `task` on `source` plans to use on `backend`, from the headers alone
 * (see `planCosts`): what the pool's job budget reserves for it. 0 when planning refuses it;
 * the worker then answers the refusal, without work.
 */
export function plannedJobBytes(task: Transform, source: Uint8Array, backend: string): number {
  return planFromHeaders(task, source, backend)?.bytes ?? 0;
}

/**
 * The planned CPU milliseconds of the job `task` on `source` on `backend`, from the headers
 * alone (see lib/jobs/work.ts). 0 when planning refuses it: the worker answers the refusal
 * without work.
 */
export function plannedJobMs(task: Transform, source: Uint8Array, backend: string): number {
  // A progressive JPEG's scans, each a pass over the whole image, are counted past its headers.
  const plan = planFromHeaders(task, source, backend, "libjpeg");
  return plan ? plannedWorkMs(plan, source.length) : 0;
}

/** The plan of `task` on `source` from its headers, or nothing when planning refuses it. */
function planFromHeaders(
  task: Transform,
  source: Uint8Array,
  backend: string,
  depth: ProbeDepth = "headers",
): Plan | undefined {
  try {
    const format = sniffFormat(source);
    if (!format) return undefined;
    // The headers suffice for the size; the worker checks the whole file before decoding.
    const probed = { ...probeImage(source, format, depth), format };
    return planFor(task, probed, readOverlays(task, backend), { name: backend });
  } catch {
    return undefined;
  }
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
  const probed = probeImage(bytes, format, backend.jpegDecoder === "libjpeg" ? "libjpeg" : "whole");
  const overlays = readOverlays(task, backend.name);
  const plan = planFor(task, { ...probed, format }, overlays, backend);
  checkTimeFor(plan.decodeMs, task.deadline);
  const canvas = await backend.decode(bytes, format, {
    hint: plan.hint,
    probed,
    allFrames: plan.allFrames,
    deadline: task.deadline,
    cancel,
  });
  try {
    const context = applyContext(backend, overlays, { deadline: task.deadline, cancel });
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
    const pixels = canvas.width * canvas.height * canvas.frameCount;
    const ms = encodeMs(backend.name, output.type as EncodedType, pixels, plan.alpha);
    checkTimeFor(ms, task.deadline);
    return checkEncoded(await backend.encode(canvas, output), output.type);
  } finally {
    canvas.dispose();
  }
}
