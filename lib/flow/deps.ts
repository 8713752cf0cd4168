import type { ResultCache } from "../cache/results.ts";
import type { SingleFlight } from "../cache/single_flight.ts";
import type { SourceLoader } from "../cache/sources.ts";
import type { Config } from "../config/config.ts";
import type { JobContext } from "../jobs/url.ts";
import type { Logger } from "../log.ts";
import type { JobBudget } from "../pool/job_budget.ts";
import type { WorkerPool } from "../pool/pool.ts";
import type { Admissions } from "./admission.ts";
import type { Deadlines } from "./deadlines.ts";
import type { RequestMemo } from "./request_memo.ts";

/**
 * Everything the request flow works with, in one object. A reload (SIGHUP) builds a new one
 * around the same pool and caches; each request uses the one current when it began.
 */
export interface FlowDeps {
  config: Config;
  /** When this config was loaded: results can change from then on (presets, settings). */
  loadedAt: Date;
  /** What parsing a URL needs from the config: presets, default quality, limits. */
  parseContext: JobContext;
  /** Parsed jobs and last result identities of recent URLs, for this config. */
  memo: RequestMemo;
  sources: SourceLoader;
  results: ResultCache;
  /** One timer per timeout value for every request's deadline. */
  deadlines: Deadlines;
  /** Transforms in flight by result identity, shared by concurrent identical requests. */
  flights: SingleFlight<Uint8Array<ArrayBuffer>>;
  pool: WorkerPool;
  /** Places in the pool taken by requests before they read, shared by identical ones. */
  admissions: Admissions;
  /** The planned memory of the jobs in the pool, bounded by `image.maxInflightJobBytes`. */
  jobBudget: JobBudget;
  log: Logger;
}

/** The parse context of a config. */
export function parseContextOf(config: Config): JobContext {
  return {
    ...config.image,
    presets: config.presets,
    defaultQuality: config.image.quality,
    watermarks: config.watermarks,
  };
}
