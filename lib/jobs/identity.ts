import { createHash } from "node:crypto";
import type { Job } from "./url.ts";

/**
 * The identity of one result: the source (storage, path and its validator) and the
 * normalised job (presets expanded, format, quality) and the `variant` of the server's
 * settings that change pixels (backend, orientation). It names the cached result and is the
 * ETag, so a changed source can never match a stale result.
 */
export function resultKey(job: Job, sourceValidator: string, variant: string): string {
  const identity = JSON.stringify([
    job.storage,
    job.path,
    sourceValidator,
    job.chain,
    job.format,
    variant,
  ]);
  return createHash("sha256").update(identity).digest("base64url").slice(0, 32);
}
