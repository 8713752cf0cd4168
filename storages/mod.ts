import { ConfigError, type StorageConfig } from "../lib/config/config.ts";
import { createHttpStorage } from "./http.ts";
import { createLocalStorage } from "./local.ts";
import { createS3Storage } from "./s3.ts";
import type { Storage, StorageFactory } from "./storage.ts";

/** Storage modules by their `type`. Adding a storage type is one module and one line here. */
const factories: Record<string, StorageFactory> = {
  http: createHttpStorage,
  local: createLocalStorage,
  s3: createS3Storage,
};

/**
 * Builds every configured storage, by name.
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
    storages.set(config.name, await factory(config, baseDir));
  }
  return storages;
}
