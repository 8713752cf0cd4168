import { dirname, resolve } from "node:path";
import { filters } from "../../filters/mod.ts";
import { gravityNames } from "../../filters/gravity.ts";
import type { Watermark } from "../../filters/watermark.ts";
import { ConfigError, ConfigReader } from "./reader.ts";
import type { ImageLimits } from "../image/limits.ts";
import { type ShrinkOnLoad, shrinkOnLoadPolicies } from "../image/backend.ts";
import type { SigningKey } from "../jobs/signature.ts";
import { substituteEnv } from "./env.ts";
import { parseSigningKey } from "../jobs/signature.ts";
import { noFilters, parseChain, type Step } from "../jobs/url.ts";

export { ConfigError };

export const backends = ["pure", "imagemagick", "graphicsmagick", "vips"] as const;
export type BackendName = typeof backends[number];

/** Who may ask for what: URL signatures and a bearer token, both optional. */
export interface SecurityConfig {
  keys: SigningKey[];
  /** Lets `_` stand in for the signature (development only). */
  allowUnsigned: boolean;
  token?: string;
}

export type { ImageLimits };

export interface ImageConfig extends ImageLimits {
  /** Source bytes that requests may hold at once (reading, or waiting for a worker). */
  maxInflightBytes: number;
  /** The planned peak bytes of every job handed to the pool at once (waiting or running). */
  maxInflightJobBytes: number;
  quality: number;
  /** The quality of `avif` without one. */
  avifQuality: number;
  /** Whether `auto` may answer AVIF. */
  autoAvif: boolean;
  /** Whether `auto` may answer JPEG XL, to clients whose `Accept` takes it. */
  autoJxl: boolean;
  /** BlurHash components across and down for `info`, from `"XxY"` (each 1..9). */
  blurhashComponents: { x: number; y: number };
  /** The colour JPEG flattens transparency onto, `RRGGBB`. */
  background: string;
  autoOrient: boolean;
  progressive: boolean;
  /** How far decoders shrink on load (see `ShrinkOnLoad`). */
  shrinkOnLoad: ShrinkOnLoad;
}

/** One storage entry; its type-specific keys are read by the storage module. */
export interface StorageConfig {
  name: string;
  type: string;
  reader: ConfigReader;
}

/** The whole, validated configuration. No module reads the raw JSON. */
export interface Config {
  http: {
    host: string;
    port: number;
    root: string;
    timeoutMs: number;
    workers: number;
    queue: number;
    shutdownTimeoutMs: number;
    cacheControl: string;
    metricsPath: string;
    /** Serve metrics on this port instead of the main one; 0 keeps them on the main port. */
    metricsPort: number;
    /** Serve the playground page at `/`. */
    playground: boolean;
    /** Origins allowed to read responses from scripts: `"*"`, or a list (empty: CORS off). */
    cors: "*" | readonly string[];
  };
  log: { format: "text" | "json" };
  presets: ReadonlyMap<string, readonly Step[]>;
  /** Each preset's definition as written in the config, for the playground. */
  presetDefinitions: ReadonlyMap<string, string>;
  /** The watermarks `wm,NAME` may name, by name. */
  watermarks: ReadonlyMap<string, Watermark>;
  image: ImageConfig;
  storages: StorageConfig[];
  caches: {
    source: number;
    sourceBytes: number;
    result: number;
    resultDir?: string;
    resultDirBytes: number;
    /** The storage that holds the results shared by every instance. */
    shared?: string;
    /** The key that seals results on disk and in the shared store (HMAC-SHA256), if any. */
    secret?: string;
    /**
     * Bytes each table keyed by client text may hold: the request memo (parsed URLs and their
     * last result identities) and the sources' last confirmed validators.
     */
    memoBytes: number;
  };
  backend: BackendName;
  security: SecurityConfig;
  /** Directory of the config file; relative paths in it are relative to this. */
  baseDir: string;
  /** Valid but risky settings, for the log at start and on reload. */
  warnings: string[];
}

const MiB = 1024 * 1024;
/**
 * The largest pixel limit: an RGBA bitmap of 2^29 pixels is 2 GiB, and a 32-bit WebAssembly
 * codec (4 GiB of memory at most) must hold it and its copy.
 */
export const maxPixelLimit = 2 ** 29;
/** The largest source byte limit: a source is read into one buffer and held by the caches. */
export const maxSourceByteLimit = 1024 * MiB;
/** The most image workers: each is a thread with its own heap and codec memory. */
const maxWorkers = 256;

/**
 * Reads, validates and completes a config file with defaults.
 *
 * @throws {ConfigError} naming the bad key
 */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new ConfigError(`Cannot read config file "${file}": ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Config file "${file}" is not valid JSON: ${(error as Error).message}`);
  }
  const expanded = substituteEnv(raw, (name) => Deno.env.get(name));
  return parseConfig(expanded, dirname(resolve(file)));
}

/**
 * Validates a parsed config object; `baseDir` anchors relative paths.
 *
 * @throws {ConfigError} naming the bad key
 */
export function parseConfig(raw: unknown, baseDir: string): Config {
  const top = ConfigReader.of(raw, "");
  const security = readSecurity(top.section("security"));
  const backend = top.oneOf("backend", "pure", backends);
  const http = readHttp(top.section("http"), security.token !== undefined, backend);
  const image = readImage(top.section("image"), http.timeoutMs, http.workers);
  const storages = top.list("storages").map((entry) => ({
    name: entry.string("name"),
    type: entry.string("type"),
    reader: entry,
  }));
  const duplicate = storages.find((s, i) => storages.findIndex((t) => t.name === s.name) !== i);
  if (duplicate) throw new ConfigError(`Storage name "${duplicate.name}" is used twice`);
  const watermarks = readWatermarks(top.list("watermarks"), storages);
  const { presets, presetDefinitions } = readPresets(top.list("filters"), image, watermarks);
  const cachesReader = top.section("caches");
  const resultDir = cachesReader.optionalString("resultDir");
  const caches = {
    source: cachesReader.integer("source", 100, -1),
    sourceBytes: cachesReader.integer("sourceBytes", 256 * MiB, 0),
    result: cachesReader.integer("result", 128 * MiB, 0),
    resultDir: resultDir === undefined ? undefined : resolve(baseDir, resultDir),
    resultDirBytes: cachesReader.integer("resultDirBytes", 1024 * MiB, 0),
    shared: cachesReader.optionalString("shared"),
    secret: readSecret(cachesReader),
    memoBytes: cachesReader.integer("memoBytes", 4 * MiB, 0, 1024 * MiB),
  };
  cachesReader.rejectUnknown();
  if (caches.shared !== undefined && !storages.some((s) => s.name === caches.shared)) {
    throw new ConfigError(
      `"caches.shared" must name a configured storage, not "${caches.shared}"`,
    );
  }
  const logReader = top.section("log");
  const log = { format: logReader.oneOf("format", "text", ["text", "json"] as const) };
  logReader.rejectUnknown();
  top.rejectUnknown();
  // The page cannot hold the key; the server signs for it, so someone must be let in first.
  if (http.playground && security.keys.length > 0 && security.token === undefined) {
    throw new ConfigError(
      `"http.playground" with "security.keys" needs "security.token": the playground signs ` +
        `URLs for its users, which must not be anyone`,
    );
  }
  const warnings = publicWithToken(http.cacheControl, security.token);
  return {
    http,
    log,
    presets,
    presetDefinitions,
    watermarks,
    image,
    storages,
    caches,
    backend,
    security,
    baseDir,
    warnings,
  };
}

function readWatermarks(
  entries: ConfigReader[],
  storages: readonly StorageConfig[],
): ReadonlyMap<string, Watermark> {
  const watermarks = new Map<string, Watermark>();
  for (const entry of entries) {
    const name = entry.string("name");
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new ConfigError(`Watermark name "${name}" may use only letters, digits, "_" and "-"`);
    }
    if (watermarks.has(name)) throw new ConfigError(`Watermark "${name}" is defined twice`);
    const storage = entry.string("storage");
    if (!storages.some((s) => s.name === storage)) {
      throw new ConfigError(`"${entry.name("storage")}" names no configured storage: "${storage}"`);
    }
    watermarks.set(name, {
      name,
      storage,
      path: entry.string("path"),
      gravity: entry.oneOf("gravity", "se", gravityNames),
      opacity: entry.number("opacity", 1, 0, 1),
      scale: entry.number("scale", 0.2, 0.001, 1),
      margin: entry.integer("margin", 0, 0, 10_000),
    });
    entry.rejectUnknown();
  }
  return watermarks;
}

/**
 * Behind a token, responses are for its holders only: a shared cache must not keep them for
 * everyone, so the default Cache-Control is private.
 */
function defaultCacheControl(hasToken: boolean): string {
  return `${hasToken ? "private" : "public"}, max-age=86400`;
}

/** An explicit shared-cache policy with a token is kept as given, but said out loud. */
function publicWithToken(cacheControl: string, token: string | undefined): string[] {
  if (token === undefined || /\b(private|no-store)\b/i.test(cacheControl)) return [];
  return [
    `"http.cacheControl" is ${JSON.stringify(cacheControl)} while "security.token" is set: ` +
    `a shared cache may serve these responses to clients without the token`,
  ];
}

function readHttp(r: ConfigReader, hasToken: boolean, backend: BackendName): Config["http"] {
  // The default follows the machine but stays within the bound, so a 512-core host starts. A
  // job leaves its core idle while it waits (the storage read, the pool's messages, and on vips
  // sharp's hand-overs to its own threads): under saturation, one worker more than the cores
  // served more on vips and graphicsmagick, whose jobs are the shortest, and nothing measurable
  // on imagemagick or pure, where it would only cost memory (docs/operations.md, "Sizing").
  const spare = backend === "vips" || backend === "graphicsmagick" ? 1 : 0;
  const workers = r.integer(
    "workers",
    Math.min(navigator.hardwareConcurrency + spare, maxWorkers),
    1,
    maxWorkers,
  );
  const http = {
    host: r.string("host", "0.0.0.0"),
    port: r.integer("port", 80, 0, 65535),
    root: r.string("root", "/impressionist"),
    timeoutMs: r.duration("timeout", "30s", "1h"),
    workers,
    queue: r.integer("queue", 8 * workers, 0),
    shutdownTimeoutMs: r.duration("shutdownTimeout", "10s", "10m"),
    cacheControl: r.string("cacheControl", defaultCacheControl(hasToken)),
    metricsPath: r.string("metricsPath", "/metrics"),
    metricsPort: r.integer("metricsPort", 0, 0, 65535),
    playground: r.boolean("playground", false),
    cors: readCors(r),
  };
  if (!http.metricsPath.startsWith("/")) {
    throw new ConfigError(`"http.metricsPath" must start with "/"`);
  }
  if (!/^(\/[A-Za-z0-9._~-]+)*$/.test(http.root)) {
    throw new ConfigError(`"http.root" must be "" or start with "/", like "/impressionist"`);
  }
  r.rejectUnknown();
  return http;
}

/** `http.cors`: `"*"`, or a list of origins such as `"https://app.example.com"`. */
function readCors(r: ConfigReader): "*" | string[] {
  if (r.raw.cors === "*") return r.oneOf("cors", "*", ["*"] as const);
  return r.strings("cors", `"*" or a list of origins`).map((origin, i) => {
    let parsed: string | undefined;
    try {
      parsed = new URL(origin).origin;
    } catch { /* reported below */ }
    if (parsed !== origin) {
      throw new ConfigError(
        `"${r.name("cors")}[${i}]" must be an origin like "https://app.example.com", ` +
          `not "${origin}"`,
      );
    }
    return origin;
  });
}

/** The shortest `caches.secret`: 16 characters, 128 bits when random. */
const MIN_SECRET_LENGTH = 16;

/** `caches.secret`, usually `"${RESULTS_SECRET}"` so that it stays out of the file. */
function readSecret(r: ConfigReader): string | undefined {
  const secret = r.optionalString("secret");
  if (secret === undefined) return undefined;
  if (secret.length < MIN_SECRET_LENGTH) {
    const key = r.name("secret");
    throw new ConfigError(`"${key}" must be at least ${MIN_SECRET_LENGTH} characters long`);
  }
  return secret;
}

function readSecurity(r: ConfigReader): SecurityConfig {
  const keys = r.list("keys").map((entry) => {
    try {
      return parseSigningKey(entry.string("key"), entry.string("salt"));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`"${entry.path}": ${(error as Error).message}`);
    } finally {
      entry.rejectUnknown();
    }
  });
  const security = {
    keys,
    allowUnsigned: r.boolean("allowUnsigned", false),
    token: r.optionalString("token"),
  };
  r.rejectUnknown();
  return security;
}

/** `image.maxJobBytes` by default: see docs/planning.md for how it was measured. */
export const defaultJobBytes = 512 * MiB;

/** `image.blurhashComponents`: `"XxY"`, the BlurHash's components across and down, 1..9 each. */
function readComponents(r: ConfigReader): { x: number; y: number } {
  const text = r.string("blurhashComponents", "4x3");
  const match = /^([1-9])x([1-9])$/.exec(text);
  if (!match) {
    throw new ConfigError(
      `"${
        r.name("blurhashComponents")
      }" must be XxY with X and Y from 1 to 9 (BlurHash's range), like "4x3", not "${text}"`,
    );
  }
  return { x: Number(match[1]), y: Number(match[2]) };
}

/**
 * `image`, with `timeoutMs` (`http.timeout`) that uninterruptible codec calls are planned
 * against, and `workers`, whose jobs share the default in-flight job budget.
 */
function readImage(r: ConfigReader, timeoutMs: number, workers: number): ImageConfig {
  const image = {
    quality: r.integer("quality", 75, 1, 100),
    avifQuality: r.integer("avifQuality", 50, 1, 100),
    autoAvif: r.boolean("autoAvif", false),
    autoJxl: r.boolean("autoJxl", false),
    blurhashComponents: readComponents(r),
    background: r.string("background", "ffffff").toLowerCase(),
    autoOrient: r.boolean("autoOrient", true),
    progressive: r.boolean("progressive", false),
    shrinkOnLoad: r.oneOf("shrinkOnLoad", "fast", shrinkOnLoadPolicies),
    maxSourceBytes: r.integer("maxSourceBytes", 50 * MiB, 1, maxSourceByteLimit),
    maxSourcePixels: r.integer("maxSourcePixels", 50_000_000, 1, maxPixelLimit),
    maxOutputPixels: r.integer("maxOutputPixels", 50_000_000, 1, maxPixelLimit),
    maxFrames: r.integer("maxFrames", 256, 1, 100_000),
    maxChain: r.integer("maxChain", 16, 1),
    maxBlurSigma: r.number("maxBlurSigma", 50, 0, 1000),
    maxInflightBytes: r.integer("maxInflightBytes", 256 * MiB, 1),
    // Measured (docs/planning.md): the largest jobs it admits peak under 1 GB of RSS.
    maxJobBytes: r.integer("maxJobBytes", defaultJobBytes, 1),
  };
  const maxInflightJobBytes = r.integer(
    "maxInflightJobBytes",
    image.maxJobBytes * 2 * workers,
    image.maxJobBytes,
  );
  if (!/^[0-9a-f]{6}$/.test(image.background)) {
    throw new ConfigError(
      `"${
        r.name("background")
      }" must be a colour as 6 hex digits RRGGBB, like "ffffff", not "${image.background}"`,
    );
  }
  r.rejectUnknown();
  return { ...image, maxInflightJobBytes, timeoutMs };
}

function readPresets(
  entries: ConfigReader[],
  image: ImageConfig,
  watermarks: ReadonlyMap<string, Watermark>,
) {
  const presets = new Map<string, Step[]>();
  const presetDefinitions = new Map<string, string>();
  // Definitions use filters only, so a preset can never refer to itself.
  const context = { ...image, presets: new Map(), defaultQuality: image.quality, watermarks };
  for (const entry of entries) {
    const name = entry.string("name");
    if (filters.has(name)) throw new ConfigError(`Preset "${name}" shadows the filter "${name}"`);
    if (name === noFilters) throw new ConfigError(`Preset name "${name}" is the empty chain's`);
    if (presets.has(name)) throw new ConfigError(`Preset "${name}" is defined twice`);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new ConfigError(`Preset name "${name}" may use only letters, digits, "_" and "-"`);
    }
    const definition = entry.string("definition");
    try {
      presets.set(name, parseChain(definition, context));
    } catch (error) {
      throw new ConfigError(`"${entry.name("definition")}": ${(error as Error).message}`);
    }
    presetDefinitions.set(name, definition);
    entry.rejectUnknown();
  }
  return { presets, presetDefinitions };
}
