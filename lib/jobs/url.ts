import type { ParseContext } from "../../filters/filter.ts";
import { filters } from "../../filters/mod.ts";
import { BadRequest } from "../errors.ts";
import type { OutputFormat } from "../image/formats.ts";

/** One parsed filter of a chain: its token and its cloneable parameters. */
export interface Step {
  name: string;
  params: unknown;
}

/** Everything a request asks for, parsed from its URL. */
export interface Job {
  chain: Step[];
  format: OutputFormat;
  storage: string;
  /** Relative path inside the storage, segments joined with `/`, already decoded. */
  path: string;
}

/** What parsing needs from the configuration. */
export interface JobContext extends ParseContext {
  presets: ReadonlyMap<string, readonly Step[]>;
  defaultQuality: number;
  /** The quality of `avif` without one (`image.avifQuality`). */
  avifQuality: number;
  maxChain: number;
}

// A Map, not an object literal: client text such as "constructor" must find nothing.
const formatAliases = new Map<string, OutputFormat["type"]>([
  ["png", "png"],
  ["jpeg", "jpeg"],
  ["jpg", "jpeg"],
  ["webp", "webp"],
  ["gif", "gif"],
  ["avif", "avif"],
  ["jxl", "jxl"],
  ["auto", "auto"],
  ["info", "info"],
]);
const lossy = new Set<OutputFormat["type"]>(["jpeg", "webp", "avif", "jxl", "auto"]);

/** A format name as a URL may write it, and which arguments it takes (for the playground). */
export interface FormatDoc {
  name: string;
  quality: boolean;
  lossless: boolean;
}

/** Every format name a URL may use, in the order {@link parseFormat} lists them. */
export function formatDocs(): FormatDoc[] {
  return [...formatAliases].map(([name, type]) => ({
    name,
    quality: lossy.has(type),
    lossless: type === "webp",
  }));
}

/** The chain that means "no filter": the source converted only (`/none/webp/…`). */
export const noFilters = "none";

/**
 * Parses a comma-separated filter chain. `gs` takes one token, every other filter two; a
 * preset name expands to its definition; `none` alone is the empty chain.
 *
 * @throws {BadRequest} naming the bad token
 * @example parseChain("s,200x0,gs", context) // [{name: "s", …}, {name: "gs", …}]
 */
export function parseChain(text: string, context: JobContext): Step[] {
  if (text === noFilters) return [];
  const tokens = text.split(",");
  const chain: Step[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === "") {
      throw new BadRequest(`Empty filter in chain "${text}": check for a stray comma`);
    }
    if (token === noFilters) {
      throw new BadRequest(
        `"${noFilters}" means no filter and stands alone: remove it from "${text}"`,
      );
    }
    const preset = context.presets.get(token);
    if (preset) {
      chain.push(...preset);
      continue;
    }
    const filter = filters.get(token);
    if (!filter) {
      const known = [...filters.keys(), ...context.presets.keys()].map((n) => `"${n}"`).join(", ");
      throw new BadRequest(`Unknown filter "${token}": expected one of ${known}`);
    }
    if (filter.arity === 1 && (i + 1 >= tokens.length || tokens[i + 1] === "")) {
      throw new BadRequest(`Missing argument for filter "${token}"`);
    }
    const arg = filter.arity === 1 ? tokens[++i] : "";
    chain.push({ name: token, params: filter.parse(arg, context) });
  }
  if (chain.length > context.maxChain) {
    throw new BadRequest(`Chain has ${chain.length} filters: at most ${context.maxChain} allowed`);
  }
  return chain;
}

/**
 * Parses the format segment: `png`, `gif`, `jpeg[,Q]`, `jpg[,Q]`, `webp[,Q|lossless]`,
 * `avif[,Q]`, `jxl[,Q]`, `auto[,Q]` or `info` (JSON facts about the result), Q from 1 to 100. AVIF's own default is `avifQuality`; `auto`
 * without Q keeps it too, for when it turns into AVIF.
 *
 * @throws {BadRequest} naming the bad format or quality
 */
export function parseFormat(
  text: string,
  defaultQuality: number,
  avifQuality = defaultQuality,
): OutputFormat {
  const [name, quality, ...rest] = text.split(",");
  const type = formatAliases.get(name);
  if (type === undefined) {
    const known = [...formatAliases.keys()].map((n) => `"${n}"`).join(", ");
    throw new BadRequest(`Unknown format "${name}": expected one of ${known}`);
  }
  if (quality === undefined) {
    if (type === "avif") return { type, quality: avifQuality };
    return type === "auto"
      ? { type, quality: defaultQuality, avifQuality }
      : { type, quality: defaultQuality };
  }
  if (type === "webp" && quality === "lossless" && rest.length === 0) {
    return { type, quality: defaultQuality, lossless: true };
  }
  const q = /^\d{1,3}$/.test(quality) ? Number(quality) : NaN;
  if (!lossy.has(type) || rest.length > 0 || !(q >= 1 && q <= 100)) {
    throw new BadRequest(
      lossy.has(type)
        ? `Cannot parse quality "${text}": expected ${name},Q with Q from 1 to 100`
        : `Format "${name}" takes no quality`,
    );
  }
  return { type, quality: q };
}

/** A `.` or `..` segment as a client may write it, `%2e` included. */
export const dotSegment = /^(?:\.|%2e){1,2}$/i;

/**
 * Decodes the path segments after the storage name, refusing anything that could climb out
 * of the storage: empty, `.` or `..` segments, slashes hidden as %2F, backslashes and NUL.
 *
 * @throws {BadRequest} naming the bad segment
 */
export function parsePath(segments: readonly string[]): string {
  if (segments.length === 0) throw new BadRequest("Missing image path");
  return segments.map((raw) => {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw new BadRequest(`Cannot decode path segment "${raw}"`);
    }
    if (segment === "" || segment === "." || segment === ".." || /[\\/\0]/.test(segment)) {
      throw new BadRequest(`Bad path segment "${raw}"`);
    }
    return segment;
  }).join("/");
}

/**
 * Parses `/{chain}/{format}/{storage}/{path}` (the part of the URL path after the root, still
 * percent-encoded) into a Job. Pure: no I/O.
 *
 * @throws {BadRequest} for any syntax error, naming the bad part
 */
export function parseJob(rest: string, context: JobContext): Job {
  const [empty, chain, format, storage, ...path] = rest.split("/");
  if (empty !== "" || chain === undefined || format === undefined || !storage) {
    throw new BadRequest("Expected /{filters}/{format}/{storage}/{path}");
  }
  return {
    chain: parseChain(decodeSegment(chain).replaceAll(" ", "+"), context),
    format: parseFormat(decodeSegment(format), context.defaultQuality, context.avifQuality),
    storage: decodeSegment(storage),
    path: parsePath(path),
  };
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequest(`Cannot decode "${raw}"`);
  }
}
