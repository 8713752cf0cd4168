import { createHash } from "node:crypto";
import type { ResultCache } from "./results.ts";

/** A source's validator as its storage confirmed it, and when (milliseconds since the epoch). */
export interface StoredConfirmation {
  validator: string;
  modified?: Date;
  at: number;
}

/**
 * Sources' confirmed validators kept beside the results, on disk and in the shared store, so
 * that a restarted instance, or another one sharing the store, can name a cached result
 * without asking the storage: within `revalidate` it is served at once, and while the storage
 * fails, within `staleIfError`, it is served stale. Notes are sealed like results; a note that
 * does not read is no note.
 */
export class Confirmations {
  /**
   * @param origins per storage name, where its bytes come from (its type, directory, base URL,
   *   bucket…): a storage pointed elsewhere keeps none of the old one's notes
   */
  constructor(readonly results: ResultCache, readonly origins: ReadonlyMap<string, string>) {}

  /** Keeps a confirmation; failures cost only the note (the tiers swallow them). */
  async save(storage: string, path: string, confirmation: StoredConfirmation): Promise<void> {
    const { validator, modified, at } = confirmation;
    const note = JSON.stringify({ validator, modified: modified?.getTime(), at });
    await this.results.setNote(this.#key(storage, path), new TextEncoder().encode(note));
  }

  /** The last confirmation kept for a source by any instance sharing the tiers, if it reads. */
  async load(
    storage: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<StoredConfirmation | undefined> {
    const note = await this.results.getNote(this.#key(storage, path), signal);
    if (!note) return undefined;
    try {
      const { validator, modified, at } = JSON.parse(new TextDecoder().decode(note));
      if (typeof validator !== "string" || !Number.isFinite(at)) return undefined;
      if (modified !== undefined && !Number.isFinite(modified)) return undefined;
      return { validator, at, modified: modified === undefined ? undefined : new Date(modified) };
    } catch {
      return undefined;
    }
  }

  /**
   * A note's key: a digest of the storage, where it reads from, and the path (client text, of
   * any length), prefixed so it can never be a result's key (32 base64url characters).
   */
  #key(storage: string, path: string): string {
    const origin = this.origins.get(storage) ?? "";
    const digest = createHash("sha256").update(`${storage}\0${origin}\0${path}`);
    return `source-${digest.digest("base64url")}`;
  }
}

/** The keys of a storage's config that say where its bytes come from; never its credentials. */
const whereKeys = ["type", "path", "baseUrl", "endpoint", "region", "bucket", "prefix"];

/** Where a storage's bytes come from, as text, for {@linkcode Confirmations}. */
export function storageOrigin(raw: Record<string, unknown>): string {
  return JSON.stringify(whereKeys.map((key) => raw[key] ?? null));
}
