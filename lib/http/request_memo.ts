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
}

/** Variants kept per URL: browsers send a few distinct `Accept` values, not hundreds. */
const MAX_VARIANTS = 16;

/**
 * Remembers, per config, what a URL path asks for: the parsed (and signature-checked) job,
 * the task per `Accept`, and the result identity for the source's last validator. A repeated
 * URL, the common case of a cache hit, then costs no parsing, no HMAC and no hashing; only
 * its source's revalidation.
 */
export class RequestMemo {
  readonly #entries = new LruCache<Entry>({
    maxEntries: 4096,
    maxBytes: Number.MAX_SAFE_INTEGER,
    sizeOf: () => 1,
  });

  constructor(readonly image: ImageSettings, readonly producer: string) {}

  /** The job for `rest`, parsed by `parse` the first time (its errors are not remembered). */
  async job(rest: string, parse: () => Promise<Job>): Promise<Job> {
    const known = this.#entries.get(rest);
    if (known) return known.job;
    const job = await parse();
    this.#entries.set(rest, { job, variants: new Map() });
    return job;
  }

  /** The task and result identity of `rest`'s job for this `Accept` and source validator. */
  identify(
    rest: string,
    job: Job,
    accept: string | null,
    validator: string,
  ): { task: Transform; key: string } {
    const entry = this.#entries.get(rest);
    const variantKey = job.format.type === "auto" ? accept ?? "" : "";
    let variant = entry?.job === job ? entry.variants.get(variantKey) : undefined;
    if (!variant) {
      variant = { task: taskFor(job, accept, this.image) };
      if (entry?.job === job) {
        if (entry.variants.size >= MAX_VARIANTS) entry.variants.clear();
        entry.variants.set(variantKey, variant);
      }
    }
    if (variant.validator !== validator || variant.key === undefined) {
      variant.key = resultIdentity(variant.task, { ...job, validator }, this.producer);
      variant.validator = validator;
    }
    return { task: variant.task, key: variant.key };
  }
}
