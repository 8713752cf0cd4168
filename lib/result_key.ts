import { createHash } from "node:crypto";
import type { Job } from "./url.ts";

/**
 * The identity of one result: the source (storage, path and its validator) and the
 * normalised job (presets expanded, format, quality) on one backend. It names the cached
 * result and is the ETag, so a changed source can never match a stale result.
 */
export function resultKey(job: Job, sourceValidator: string, backend: string): string {
  const identity = JSON.stringify([
    job.storage,
    job.path,
    sourceValidator,
    job.chain,
    job.format,
    backend,
  ]);
  return createHash("sha256").update(identity).digest("base64url").slice(0, 32);
}
