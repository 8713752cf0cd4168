/**
 * Builds (and signs) impressionist image URLs. Standard web APIs only (WebCrypto, TextEncoder,
 * btoa), no imports, so it runs unchanged in Deno, Node 20+ and browsers.
 *
 * @example
 * ```ts
 * import { grayscale, imageUrl, resize } from "./client.ts";
 * await imageUrl({
 *   base: "https://img.example.com",
 *   chain: [resize(300, 200, "fill"), grayscale()],
 *   format: "webp,80",
 *   storage: "photos",
 *   path: "2024/cat.jpg",
 * }); // "https://img.example.com/impressionist/s,300x200-,gs/webp,80/photos/2024/cat.jpg"
 * ```
 * @module
 */

/** One step of a chain: a filter with its argument (`s,300x200-`) or a preset name. */
export type Step = string;

/** How `resize` treats the box: stretch to it, stay inside it, or cover it and crop. */
export type ResizeMode = "exact" | "fit" | "fill";

const resizeModifiers: Record<ResizeMode, string> = { exact: "", fit: "+", fill: "-" };

/**
 * `s,WxH`: resize to `width`×`height`; 0 for one side keeps the aspect ratio.
 *
 * @throws {RangeError} when a side is not a non-negative integer or both are 0
 */
export function resize(width: number, height: number, mode: ResizeMode = "exact"): Step {
  side(width, "width", 0);
  side(height, "height", 0);
  if (width + height === 0) throw new RangeError("Resize needs a width or a height above 0");
  return `s,${width}x${height}${resizeModifiers[mode]}`;
}

/**
 * `c,XxY-WxH`: keeps the rectangle at (`x`, `y`) of size `width`×`height`.
 *
 * @throws {RangeError} when a value is not a non-negative integer or the size is 0
 */
export function crop(x: number, y: number, width: number, height: number): Step {
  side(x, "x", 0);
  side(y, "y", 0);
  side(width, "width", 1);
  side(height, "height", 1);
  return `c,${x}x${y}-${width}x${height}`;
}

/** `f,h` mirrors left/right, `f,v` turns upside down. */
export function flip(axis: "h" | "v"): Step {
  return `f,${axis}`;
}

/** `r,D`: rotates counter-clockwise by 90, 180 or 270 degrees. */
export function rotate(degrees: 90 | 180 | 270): Step {
  return `r,${degrees}`;
}

/** `gs`: grayscale, alpha kept. */
export function grayscale(): Step {
  return "gs";
}

/**
 * `b,SIGMA`: Gaussian blur of standard deviation `sigma` pixels.
 *
 * @throws {RangeError} when sigma is negative or not finite
 */
export function blur(sigma: number): Step {
  if (!(Number.isFinite(sigma) && sigma >= 0)) {
    throw new RangeError(`Blur sigma must be a finite number of 0 or more, not ${sigma}`);
  }
  return `b,${sigma}`;
}

/** What {@link imageUrl} needs. */
export interface ImageUrlOptions {
  /** Scheme and host, like `https://img.example.com`; without it the answer is a path. */
  base?: string;
  /** The server's `http.root`; default `/impressionist`. */
  root?: string;
  /** The chain as text (`s,300x0,gs`) or as steps (`[resize(300, 0), grayscale()]`). */
  chain: string | readonly Step[];
  /** `png`, `jpeg`, `webp`, `gif`, `auto`, optionally with a quality: `webp,80`. */
  format: string;
  /** A configured storage name. */
  storage: string;
  /** The image's path inside the storage, `/`-separated, not encoded. */
  path: string;
  /** Signing key and salt, hex as in the server's `security.keys` (or bytes). */
  key?: string | Uint8Array;
  salt?: string | Uint8Array;
}

/**
 * The URL of an image: `{base}{root}[/{signature}]/{chain}/{format}/{storage}/{path}`, every
 * segment percent-encoded the way the server decodes it. With `key` and `salt` it is signed as
 * the server checks it (imgproxy's scheme, see {@link sign}).
 *
 * @throws {RangeError} for an empty chain, format or storage, or a path segment the server
 *   refuses (empty, `.`, `..`)
 */
export async function imageUrl(options: ImageUrlOptions): Promise<string> {
  const chain = typeof options.chain === "string" ? options.chain : options.chain.join(",");
  const parts = [chain, options.format, options.storage].map((part, i) => {
    if (part === "") throw new RangeError(`The ${["chain", "format", "storage"][i]} is empty`);
    return encodeSegment(part);
  });
  const path = `/${[...parts, ...options.path.split("/").map(pathSegment)].join("/")}`;
  const prefix = `${options.base?.replace(/\/+$/, "") ?? ""}${options.root ?? "/impressionist"}`;
  if (options.key === undefined && options.salt === undefined) return `${prefix}${path}`;
  if (options.key === undefined || options.salt === undefined) {
    throw new RangeError("Signing needs both a key and a salt");
  }
  return `${prefix}/${await sign(path, options.key, options.salt)}${path}`;
}

/** What {@link srcset} needs: {@link imageUrl}'s options, the chain optional, and widths. */
export interface SrcsetOptions extends Omit<ImageUrlOptions, "chain"> {
  /** Steps before the final resize, if any. */
  chain?: string | readonly Step[];
  /** One candidate per width, each resized to that width keeping the aspect ratio. */
  widths: readonly number[];
}

/**
 * A `srcset` attribute: one URL per width (the chain followed by `s,Wx0`), like
 * `".../s,320x0/... 320w, .../s,640x0/... 640w"`.
 */
export async function srcset(options: SrcsetOptions): Promise<string> {
  const { widths, chain = [], ...rest } = options;
  const before = typeof chain === "string" ? (chain === "" ? [] : [chain]) : chain;
  const candidates = await Promise.all(widths.map(async (width) => {
    const url = await imageUrl({ ...rest, chain: [...before, resize(width, 0)] });
    return `${url} ${width}w`;
  }));
  return candidates.join(", ");
}

/**
 * imgproxy's signature: base64url, unpadded, of HMAC-SHA256(key, salt ‖ path), where `path`
 * is everything after the signature segment, starting with `/`. Key and salt are hex strings
 * or bytes.
 */
export async function sign(
  path: string,
  key: string | Uint8Array,
  salt: string | Uint8Array,
): Promise<string> {
  const saltBytes = bytes(salt, "salt");
  const pathBytes = new TextEncoder().encode(path);
  const message = new Uint8Array(saltBytes.length + pathBytes.length);
  message.set(saltBytes);
  message.set(pathBytes, saltBytes.length);
  const hmac = { name: "HMAC", hash: "SHA-256" };
  const cryptoKey = await crypto.subtle.importKey("raw", bytes(key, "key"), hmac, false, ["sign"]);
  const digest = new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, message));
  return btoa(String.fromCharCode(...digest))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Percent-encodes one segment, leaving the characters the chain and format grammar uses
 * (`,` `+` `-` `:` …) readable; the server decodes with `decodeURIComponent` either way.
 */
function encodeSegment(text: string): string {
  return encodeURIComponent(text).replace(
    /%(2C|2B|3A|40|24|26|3B|3D)/g,
    (_, hex) => String.fromCharCode(parseInt(hex, 16)),
  );
}

function pathSegment(segment: string): string {
  if (segment === "" || segment === "." || segment === "..") {
    throw new RangeError(`Bad path segment "${segment}": expected a name, not empty, "." or ".."`);
  }
  return encodeSegment(segment);
}

function side(value: number, name: string, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`The ${name} must be an integer of ${min} or more, not ${value}`);
  }
}

/** A copy backed by a plain ArrayBuffer (as WebCrypto wants), decoded from hex when text. */
function bytes(value: string | Uint8Array, name: string): Uint8Array<ArrayBuffer> {
  if (typeof value !== "string") return new Uint8Array(value);
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(value)) {
    throw new RangeError(`The signing ${name} must be a non-empty, even-length hex string`);
  }
  return new Uint8Array(value.match(/../g)!.map((pair) => parseInt(pair, 16)));
}
