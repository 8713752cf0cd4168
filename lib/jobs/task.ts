import type { ShrinkOnLoad } from "../image/backend.ts";
import type { ImageLimits } from "../image/limits.ts";
import { negotiate } from "../image/formats.ts";
import type { Transform } from "./transform.ts";
import type { Job } from "./url.ts";

/** The server's image settings that a task carries: its limits and what changes pixels. */
export interface ImageSettings extends ImageLimits {
  progressive: boolean;
  autoOrient: boolean;
  /** Whether `auto` may answer AVIF. */
  autoAvif: boolean;
  /** Whether `auto` may answer JPEG XL. */
  autoJxl: boolean;
  /** The BlurHash components across and down that `info` computes. */
  blurhashComponents: { x: number; y: number };
  /** The colour JPEG flattens transparency onto, `RRGGBB`. */
  background: string;
  /** How far decoders shrink on load: it changes pixels, so it is part of the task. */
  shrinkOnLoad: ShrinkOnLoad;
}

/**
 * The exact task a worker receives for a job: the chain, the format with what the client's
 * `Accept` allows for `auto`, and the image settings. Everything that can change the result
 * is in here, so the result's identity is a hash of it.
 */
export function taskFor(job: Job, accept: string | null, image: ImageSettings): Transform {
  return {
    chain: job.chain,
    format: {
      ...negotiate(job.format, accept, image.autoAvif, image.autoJxl),
      ...(job.format.type === "info" ? { blurhashComponents: image.blurhashComponents } : {}),
      progressive: image.progressive,
      background: image.background,
    },
    limits: image,
    autoOrient: image.autoOrient,
    shrinkOnLoad: image.shrinkOnLoad,
  };
}
