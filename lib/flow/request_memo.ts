import { LruCache } from "../cache/lru.ts";
import { resultIdentity } from "../jobs/identity.ts";
import { type ImageSettings, taskFor } from "../jobs/task.ts";
import type { Transform } from "../jobs/transform.ts";
import type { Job } from "../jobs/url.ts";

/** One way of answering a URL: its task for one `Accept`, and its last result identity. */
interface Variant {
  task: Transform;
  validator?: string;
  key?: string;
}

interface Entry {
  job: Job;
  /** By `Accept` for `auto`, else one variant under "". A handful at most. */
  variants: Map<string, Variant>;
  /** What the entry costs in the memo's byte budget, kept up to date as variants come. */
  bytes: number;
}

/** A task and the identity of its result for one source validator. */
export interface Identified {
  task: Transform;
  key: string;
}

/** Variants kept per URL: browsers send a few distinct `Accept` values, not hundreds. */
const MAX_VARIANTS = 16;
/** Bytes counted per entry and per variant besides their text: maps, objects, the hash. */
const OVERHEAD = 256;

/**
 * Remembers, per config, what a URL path asks for: the parsed (and signature-checked) job,
 * the task per `Accept`, and the result identity for the source's last validator. A repeated
 * URL, the common case of a cache hit, then costs no parsing, no HMAC and no hashing, and its
 * last identity is the result to look up first.
 *
 * Every key is client text, so the memo is bounded in bytes (`caches.memoBytes`), counting the
 * URL, the parsed job and each variant's `Accept` and task: long URLs evict others sooner, and
 * cannot grow memory.
 */
export class RequestMemo {
  readonly #entries: LruCache<Entry>;

  constructor(readonly image: ImageSettings, readonly producer: string, maxBytes: number) {
    this.#entries = new LruCache({
      maxEntries: Number.MAX_SAFE_INTEGER,
      maxBytes,
      sizeOf: (entry) => entry.bytes,
    });
  }

  /** The job for `rest`, parsed by `parse` the first time (its errors are not remembered). */
  async job(rest: string, parse: () => Promise<Job>): Promise<Job> {
    const known = this.#entries.get(rest);
    if (known) return known.job;
    const job = await parse();
    const bytes = 2 * (rest.length + JSON.stringify(job).length) + OVERHEAD;
    this.#entries.set(rest, { job, variants: new Map(), bytes });
    return job;
  }

  /**
   * The validator `rest`'s result for this `Accept` was last identified with, if any: the
   * request has been answered before, so its result is likely cached.
   */
  lastValidator(rest: string, job: Job, accept: string | null): string | undefined {
    return this.#variant(rest, job, accept)?.validator;
  }

  /** The task and result identity of `rest`'s job for this `Accept` and source validator. */
  identify(rest: string, job: Job, accept: string | null, validator: string): Identified {
    let variant = this.#variant(rest, job, accept);
    if (!variant) {
      variant = { task: taskFor(job, accept, this.image) };
      this.#remember(rest, job, accept, variant);
    }
    if (variant.validator !== validator || variant.key === undefined) {
      variant.key = resultIdentity(variant.task, { ...job, validator }, this.producer);
      variant.validator = validator;
    }
    return { task: variant.task, key: variant.key };
  }

  #variant(rest: string, job: Job, accept: string | null): Variant | undefined {
    const entry = this.#entries.get(rest);
    return entry?.job === job ? entry.variants.get(variantKey(job, accept)) : undefined;
  }

  /** Adds a variant to `rest`'s entry (when it is still the one `job` came from). */
  #remember(rest: string, job: Job, accept: string | null, variant: Variant): void {
    const entry = this.#entries.get(rest);
    if (entry?.job !== job) return;
    // Out and back in, so the LRU counts the entry's new size.
    this.#entries.delete(rest);
    if (entry.variants.size >= MAX_VARIANTS) {
      entry.bytes -= [...entry.variants].reduce((sum, [key, v]) => sum + sizeOf(key, v), 0);
      entry.variants.clear();
    }
    const key = variantKey(job, accept);
    entry.variants.set(key, variant);
    entry.bytes += sizeOf(key, variant);
    this.#entries.set(rest, entry);
  }
}

/** The variant a request falls in: its `Accept` matters only to `auto`. */
function variantKey(job: Job, accept: string | null): string {
  return job.format.type === "auto" ? accept ?? "" : "";
}

function sizeOf(key: string, variant: Variant): number {
  return 2 * (key.length + JSON.stringify(variant.task).length) + OVERHEAD;
}
