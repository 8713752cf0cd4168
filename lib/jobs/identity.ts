import { createHash } from "node:crypto";
import type { Transform } from "./transform.ts";

/** Where a result's pixels come from: the source as its storage identifies it. */
export interface SourceIdentity {
  storage: string;
  path: string;
  /** Changes whenever the source's content changes (size and mtime, or an upstream ETag). */
  validator: string;
}

/**
 * The identity of one result, computed in one place: a hash of the exact task the worker
 * receives, the source it reads, and `producer` (the backend the pool really runs and the
 * version of the processing code). It is the ETag and names the result in every cache, so
 * a changed source, a reload or an upgrade can never match a stale result.
 */
export function resultIdentity(task: Transform, source: SourceIdentity, producer: string): string {
  const identity = JSON.stringify([
    source.storage,
    source.path,
    source.validator,
    task,
    producer,
  ]);
  return createHash("sha256").update(identity).digest("base64url").slice(0, 32);
}
