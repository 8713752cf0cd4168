import { ConfigError } from "./reader.ts";

/** `${NAME}` or `${NAME:-default}`. */
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of parsed JSON, returning a new
 * structure. As in the shell, the default applies when the variable is unset or empty.
 * Keys and non-string values are left alone.
 *
 * @throws {ConfigError} when a variable without a default is unset, naming it and the key
 * @example substituteEnv({ s3: { region: "${REGION:-eu-west-1}" } }, (name) => Deno.env.get(name))
 * // { s3: { region: "eu-west-1" } } when REGION is unset
 */
export function substituteEnv(
  value: unknown,
  env: (name: string) => string | undefined,
  path = "",
): unknown {
  if (typeof value === "string") {
    return value.replace(REFERENCE, (_, name: string, fallback: string | undefined) => {
      const found = env(name);
      if (fallback !== undefined && !found) return fallback;
      if (found !== undefined) return found;
      const where = path === "" ? "" : ` used by "${path}"`;
      throw new ConfigError(`Environment variable "${name}"${where} is not set`);
    });
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => substituteEnv(item, env, `${path}[${i}]`));
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([key, item]) => {
      const itemPath = path === "" ? key : `${path}.${key}`;
      return [key, substituteEnv(item, env, itemPath)];
    });
    return Object.fromEntries(entries);
  }
  return value;
}
