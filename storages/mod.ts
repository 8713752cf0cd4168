import { ConfigError, type StorageConfig } from "../lib/config/config.ts";
import { createHttpStorage } from "./http.ts";
import { createLocalStorage } from "./local.ts";
import { createS3Storage } from "./s3.ts";
import type { Freshness, Storage, StorageFactory } from "./storage.ts";

/** Storage modules by their `type`. Adding a storage type is one module and one line here. */
const factories: Record<string, StorageFactory> = {
  http: createHttpStorage,
  local: createLocalStorage,
  s3: createS3Storage,
};

/**
 * The freshness defaults of each type: a local `stat` is cheap and shows a replaced file at
 * once; a remote round trip is not, and a remote origin can fail while its results still hold.
 */
const freshnessDefaults: Record<string, { revalidate: string; staleIfError: string }> = {
  http: { revalidate: "60s", staleIfError: "24h" },
  local: { revalidate: "0s", staleIfError: "0s" },
  s3: { revalidate: "60s", staleIfError: "24h" },
};

/** The longest `revalidate` or `staleIfError`: a year. */
const maxFreshness = "8760h";

/** Reads the `revalidate` and `staleIfError` keys every storage has. */
function readFreshness(config: StorageConfig): Freshness {
  const defaults = freshnessDefaults[config.type];
  return {
    revalidateMs: config.reader.durationOrZero("revalidate", defaults.revalidate, maxFreshness),
    staleIfErrorMs: config.reader.durationOrZero(
      "staleIfError",
      defaults.staleIfError,
      maxFreshness,
    ),
  };
}

/**
 * Builds every configured storage, by name, with its freshness keys.
 *
 * @throws {ConfigError} for an unknown type or a bad storage key
 */
export async function createStorages(
  configs: readonly StorageConfig[],
  baseDir: string,
): Promise<Map<string, Storage>> {
  const storages = new Map<string, Storage>();
  for (const config of configs) {
    const factory = factories[config.type];
    if (!factory) {
      const known = Object.keys(factories).map((t) => `"${t}"`).join(", ");
      throw new ConfigError(
        `"${config.reader.name("type")}" must be one of ${known}, not "${config.type}"`,
      );
    }
    const freshness = readFreshness(config);
    const storage = await factory(config, baseDir);
    storages.set(config.name, { ...storage, freshness });
  }
  return storages;
}
