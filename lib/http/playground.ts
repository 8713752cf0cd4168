/**
 * The playground (`http.playground`): one page at `/` to try chains on, its script and style
 * from `./playground/`, and three JSON endpoints it builds itself from: the filter registry's
 * own descriptions (so a new filter appears without touching the page), URLs built (and, with
 * keys, signed) and ThumbHash placeholders drawn by the same client module applications use.
 * The page never holds a key.
 */
import { resolve } from "node:path";
import { imageUrl, placeholderDataUrl } from "../../client.ts";
import { maxSide } from "../../filters/args.ts";
import type { ArgumentField } from "../../filters/filter.ts";
import { filters } from "../../filters/mod.ts";
import type { Config } from "../config/config.ts";
import { BadRequest } from "../errors.ts";
import { type FormatDoc, formatDocs, parseFormat } from "../jobs/url.ts";
import { checkToken } from "./access.ts";

const staticFiles = new Map([
  ["/", { file: "index.html", type: "text/html; charset=utf-8" }],
  ["/playground/playground.js", { file: "playground.js", type: "text/javascript; charset=utf-8" }],
  ["/playground/playground.css", { file: "playground.css", type: "text/css; charset=utf-8" }],
]);

/** Image names offered as path suggestions, from the top folder of each local storage. */
const imageName = /\.(?:jpe?g|png|gif|webp|tiff?|bmp|avif)$/i;
const maxExamples = 20;

const jsonPaths = new Set([
  "/playground/filters.json",
  "/playground/url",
  "/playground/placeholder",
]);

/**
 * Answers a playground request, or undefined (at once, without awaiting anything) when the
 * path is not the playground's or the playground is off. The page and its files are public
 * (they hold nothing of the config); the JSON endpoints follow the token rule of image requests.
 */
export function servePlayground(
  request: Request,
  path: string,
  id: string,
  config: Config,
): Promise<Response> | undefined {
  if (!config.http.playground) return undefined;
  const file = staticFiles.get(path);
  if (file) return staticFile(file, id);
  if (jsonPaths.has(path)) return answerJson(request, path, id, config);
  return undefined;
}

async function staticFile(file: { file: string; type: string }, id: string): Promise<Response> {
  const body = await Deno.readFile(new URL(`./playground/${file.file}`, import.meta.url));
  return new Response(body, {
    headers: { "content-type": file.type, "cache-control": "no-cache", "x-request-id": id },
  });
}

/** @throws {HttpError} from the token check or a URL the client refuses */
async function answerJson(
  request: Request,
  path: string,
  id: string,
  config: Config,
): Promise<Response> {
  checkToken(request, config.security.token);
  const query = new URL(request.url).searchParams;
  const body = path === "/playground/url"
    ? { url: await buildUrl(query, config) }
    : path === "/playground/placeholder"
    ? { url: placeholder(query) }
    : await describe(config);
  return Response.json(body, { headers: { "cache-control": "no-store", "x-request-id": id } });
}

/** Everything the page builds its controls from. */
async function describe(config: Config) {
  return {
    root: config.http.root,
    filters: [...filters.values()].map(({ name, arity, doc }) => ({
      name,
      arity,
      ...doc,
      fields: doc.fields.map((field) => withConfiguredNames(field, config)),
    })),
    presets: [...config.presetDefinitions].map(([name, definition]) => ({ name, definition })),
    storages: config.storages.map((storage) => storage.name),
    examples: await exampleImages(config),
    // Each format with the quality the server uses when the URL gives none.
    formats: formatDocs().map((format) => ({ ...format, ...defaultQualities(format, config) })),
    token: config.security.token !== undefined,
    signed: config.security.keys.length > 0,
    // The source is shown through the server (upright, as the chain sees it): a crop of the
    // largest size a URL allows is clipped to the whole image.
    sourceChain: `c,0x0-${maxSide}x${maxSide}`,
  };
}

/** A field whose values are configured names (`wm`'s watermarks), offered as those names. */
function withConfiguredNames(field: ArgumentField, config: Config): ArgumentField {
  if (field.namesFrom !== "watermarks") return field;
  const names = [...config.watermarks.keys()];
  if (names.length === 0) return field; // a free field: the server's 400 lists what there is
  const choices = names.map((name) => ({ value: name, label: name }));
  return { ...field, kind: "choice", choices, default: names[0] };
}

/**
 * What the format parser uses when the URL gives no quality; `auto` has AVIF's too when it may
 * answer AVIF (`image.autoAvif`).
 */
function defaultQualities(format: FormatDoc, config: Config) {
  if (!format.quality) return {};
  const parsed = parseFormat(format.name, config.image.quality, config.image.avifQuality);
  const avif = config.image.autoAvif ? parsed.avifQuality : undefined;
  return {
    defaultQuality: parsed.quality,
    ...(avif !== undefined && { defaultAvifQuality: avif }),
  };
}

/**
 * The image URL (a path) for the query's chain, format, storage and path, signed with the
 * first key when keys are configured.
 *
 * @throws {BadRequest} when a part is missing or the client refuses it
 */
async function buildUrl(query: URLSearchParams, config: Config): Promise<string> {
  const [chain, format, storage, path] = ["chain", "format", "storage", "path"].map((name) => {
    const value = query.get(name);
    if (!value) throw new BadRequest(`Missing "${name}": expected ?chain=&format=&storage=&path=`);
    return value;
  });
  const key = config.security.keys[0];
  try {
    return await imageUrl({
      root: config.http.root,
      chain,
      format,
      storage,
      path,
      ...(key && { key: key.key, salt: key.salt }),
    });
  } catch (error) {
    if (error instanceof RangeError) throw new BadRequest(error.message);
    throw error;
  }
}

/**
 * The PNG data URL of the `thumbhash` an `info` answer gave, drawn by the client module
 * applications use (`placeholderDataUrl`).
 *
 * @throws {BadRequest} when it is missing or not a ThumbHash
 */
function placeholder(query: URLSearchParams): string {
  const thumbhash = query.get("thumbhash");
  if (!thumbhash) throw new BadRequest(`Missing "thumbhash": expected ?thumbhash=`);
  try {
    return placeholderDataUrl(thumbhash);
  } catch (error) {
    if (error instanceof RangeError) throw new BadRequest(error.message);
    throw error;
  }
}

async function exampleImages(config: Config): Promise<{ storage: string; path: string }[]> {
  const examples = [];
  for (const storage of config.storages) {
    const dir = storage.reader.raw.path;
    if (storage.type !== "local" || typeof dir !== "string") continue;
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(resolve(config.baseDir, dir))) {
        if (entry.isFile && imageName.test(entry.name)) names.push(entry.name);
      }
    } catch {
      continue; // a storage that cannot be listed simply offers no suggestions
    }
    names.sort();
    examples.push(...names.slice(0, maxExamples).map((path) => ({ storage: storage.name, path })));
  }
  return examples;
}
