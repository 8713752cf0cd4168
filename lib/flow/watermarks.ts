import type { HeldSource, SourceLoader } from "../cache/sources.ts";
import { HttpError } from "../errors.ts";
import type { Transform } from "../jobs/transform.ts";
import type { Job } from "../jobs/url.ts";
import type { Watermark } from "../../filters/watermark.ts";

/** The watermarks a job's chain names, each once. */
export function watermarksOf(job: Job): Watermark[] {
  // Most chains name none: no map to build on every request.
  if (!job.chain.some((step) => step.name === "wm")) return [];
  const byName = new Map<string, Watermark>();
  for (const step of job.chain) {
    if (step.name === "wm") byName.set((step.params as Watermark).name, step.params as Watermark);
  }
  return [...byName.values()];
}

/** The images of a job's watermarks, held like its source; release them with it. */
export interface HeldWatermarks {
  /** Their validators, to be part of the result's identity: a replaced file changes it. */
  validators: string[];
  /** The task with the images added, for the worker. */
  withImages(task: Transform): Transform;
  release(): void;
}

/** What a job without watermarks holds: nothing. */
const noWatermarks: HeldWatermarks = {
  validators: [],
  withImages: (task) => task,
  release() {},
};

/**
 * Loads the images of the watermarks a job names through the source cache (revalidated like
 * any source). A failure names the watermark and keeps the storage's status.
 *
 * @throws {HttpError} when a watermark's image cannot be read
 */
export async function loadWatermarks(
  job: Job,
  sources: SourceLoader,
  signal: AbortSignal,
): Promise<HeldWatermarks> {
  const marks = watermarksOf(job);
  if (marks.length === 0) return noWatermarks;
  const loads = await Promise.allSettled(
    marks.map((mark) => sources.load(mark.storage, mark.path, signal)),
  );
  const held = loads.flatMap((load) => load.status === "fulfilled" ? [load.value] : []);
  const release = () => held.forEach((source) => source.release());
  const failed = loads.findIndex((load) => load.status === "rejected");
  if (failed >= 0) {
    release();
    const error = (loads[failed] as PromiseRejectedResult).reason;
    if (!(error instanceof HttpError)) throw error;
    throw new HttpError(error.status, `Watermark "${marks[failed].name}": ${error.message}`);
  }
  const images = Object.fromEntries(marks.map((mark, i) => [mark.name, held[i].bytes]));
  return {
    validators: held.map((source: HeldSource) => source.validator),
    withImages: (task) => ({ ...task, overlays: images }),
    release,
  };
}
