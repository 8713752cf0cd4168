import { parseDuration } from "./duration.ts";

/** A start-up configuration problem; the message names the bad key. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Raw = Record<string, unknown>;

/**
 * Reads typed values out of one JSON object of the config, naming keys by their full path
 * (`http.port`) in every message, and refusing keys nobody asked for (usually typos).
 */
export class ConfigReader {
  readonly #seen = new Set<string>();

  constructor(readonly path: string, readonly raw: Raw) {}

  /** Wraps `raw[key]` (an object, or absent) in a reader of its own. */
  static of(value: unknown, path: string): ConfigReader {
    if (value === undefined) return new ConfigReader(path, {});
    if (!isObject(value)) throw new ConfigError(`"${path}" must be an object`);
    return new ConfigReader(path, value);
  }

  section(key: string): ConfigReader {
    return ConfigReader.of(this.take(key), this.name(key));
  }

  list(key: string): ConfigReader[] {
    const value = this.take(key) ?? [];
    if (!Array.isArray(value)) throw new ConfigError(`"${this.name(key)}" must be a list`);
    return value.map((item, i) => ConfigReader.of(item, `${this.name(key)}[${i}]`));
  }

  string(key: string, fallback?: string): string {
    const value = this.take(key) ?? fallback;
    if (typeof value !== "string" || value === "") {
      throw new ConfigError(`"${this.name(key)}" must be a non-empty string`);
    }
    return value;
  }

  /** A list of non-empty strings; absent is empty. `expected` describes the form in messages. */
  strings(key: string, expected = "a list of non-empty strings"): string[] {
    const value = this.take(key) ?? [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v === "")) {
      throw new ConfigError(`"${this.name(key)}" must be ${expected}`);
    }
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.raw[key] === undefined ? (this.take(key), undefined) : this.string(key);
  }

  /** An object whose values are all strings (such as extra HTTP headers); absent is empty. */
  stringMap(key: string): Record<string, string> {
    const value = this.take(key) ?? {};
    if (!isObject(value) || Object.values(value).some((v) => typeof v !== "string")) {
      throw new ConfigError(`"${this.name(key)}" must be an object of strings`);
    }
    return value as Record<string, string>;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.take(key) ?? fallback;
    if (typeof value !== "boolean") {
      throw new ConfigError(`"${this.name(key)}" must be true or false`);
    }
    return value;
  }

  integer(key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.take(key) ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`"${this.name(key)}" must be an integer from ${min} to ${max}`);
    }
    return value;
  }

  number(key: string, fallback: number, min: number, max: number): number {
    const value = this.take(key) ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      throw new ConfigError(`"${this.name(key)}" must be a number from ${min} to ${max}`);
    }
    return value;
  }

  /**
   * A Go-style duration (`500ms`, `30s`, `1m`) in milliseconds, from 1 ms to `max`. Timers
   * need the bound: past 2^31 - 1 ms (about 24.8 days) setTimeout fires at once instead.
   */
  duration(key: string, fallback: string, max: string): number {
    const text = this.string(key, fallback);
    const ms = parseDuration(text);
    const maxMs = parseDuration(max)!;
    if (ms === undefined || ms < 1 || ms > maxMs) {
      throw new ConfigError(
        `"${this.name(key)}" must be a duration from 1ms to ${max}, like "500ms", "30s" or "1m", ` +
          `not ${JSON.stringify(text)}`,
      );
    }
    return ms;
  }

  /** A duration as {@linkcode duration} reads it, or zero (`0s`, `0`): "never", "not at all". */
  durationOrZero(key: string, fallback: string, max: string): number {
    const text = this.raw[key] ?? fallback;
    if (typeof text === "string" && /^0(ms|s|m|h)?$/.test(text)) {
      this.take(key);
      return 0;
    }
    return this.duration(key, fallback, max);
  }

  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.take(key) ?? fallback;
    if (!allowed.includes(value as T)) {
      const list = allowed.map((a) => `"${a}"`).join(", ");
      throw new ConfigError(
        `"${this.name(key)}" must be one of ${list}, not ${JSON.stringify(value)}`,
      );
    }
    return value as T;
  }

  /** Throws on the first key that no reader asked for. */
  rejectUnknown(): void {
    const unknown = Object.keys(this.raw).find((key) => !this.#seen.has(key));
    if (unknown !== undefined) throw new ConfigError(`Unknown config key "${this.name(unknown)}"`);
  }

  /** The full dotted name of `key`, for messages. */
  name(key: string): string {
    return this.path === "" ? key : `${this.path}.${key}`;
  }

  private take(key: string): unknown {
    this.#seen.add(key);
    return this.raw[key];
  }
}

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
