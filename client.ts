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

/** The chain that applies no filter: the source, converted to the format only. */
export const none = "none";

/** A chain as text, `""` for no filter (written `none` in a URL). */
function chainText(chain: string | readonly Step[]): string {
  const text = typeof chain === "string" ? chain : chain.join(",");
  return text === none ? "" : text;
}

/** How `resize` treats the box: stretch to it, stay inside it, or cover it and crop. */
export type ResizeMode = "exact" | "fit" | "fill";

const resizeModifiers: Record<ResizeMode, string> = { exact: "", fit: "+", fill: "-" };

/** An edge or corner: north is the top, west the left. */
export type Gravity = "n" | "s" | "e" | "w" | "ne" | "nw" | "se" | "sw";

/**
 * Which part a `fill` resize keeps (the centre when absent): an edge or corner, a focus point
 * in fractions of the source (`{ x: 0.5, y: 0.5 }` is the centre), or `"smart"`, the region
 * the server finds most interesting.
 */
export type FillAnchor = Gravity | "smart" | { x: number; y: number };

/**
 * `s,WxH`: resize to `width`×`height`; 0 for one side keeps the aspect ratio. `anchor` (with
 * `fill` only) says which part of the covering size is kept.
 *
 * @throws {RangeError} when a side is not a non-negative integer, both are 0, or a focus
 *   fraction is outside 0..1
 */
export function resize(
  width: number,
  height: number,
  mode: ResizeMode = "exact",
  anchor?: FillAnchor,
): Step {
  side(width, "width", 0);
  side(height, "height", 0);
  if (width + height === 0) throw new RangeError("Resize needs a width or a height above 0");
  if (anchor !== undefined && mode !== "fill") {
    throw new RangeError(`Only a "fill" resize takes an anchor, not "${mode}"`);
  }
  return `s,${width}x${height}${resizeModifiers[mode]}${anchorText(anchor)}`;
}

function anchorText(anchor: FillAnchor | undefined): string {
  if (anchor === undefined || typeof anchor === "string") return anchor ?? "";
  return `f${fraction(anchor.x)}:${fraction(anchor.y)}`;
}

/** A focus fraction as the server reads it: 0..1 with at most 6 decimals. */
function fraction(value: number): string {
  if (!(value >= 0 && value <= 1)) {
    throw new RangeError(`A focus fraction must be from 0 to 1, not ${value}`);
  }
  return String(Number(value.toFixed(6)));
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

/**
 * `sh,SIGMA`: sharpen (unsharp mask of amount 1), `sigma` from 0.3 to 10 pixels.
 *
 * @throws {RangeError} outside that range
 */
export function sharpen(sigma: number): Step {
  if (!(sigma >= 0.3 && sigma <= 10)) {
    throw new RangeError(`Sharpen sigma must be from 0.3 to 10, not ${sigma}`);
  }
  return `sh,${Number(sigma.toFixed(6))}`;
}

/** `br,N`: brightness, `level` an integer from -100 to 100 (0 changes nothing). */
export function brightness(level: number): Step {
  return `br,${colorLevel(level)}`;
}

/** `ct,N`: contrast, `level` an integer from -100 (flat grey) to 100. */
export function contrast(level: number): Step {
  return `ct,${colorLevel(level)}`;
}

/** `sat,N`: saturation, `level` an integer from -100 (grey) to 100. */
export function saturation(level: number): Step {
  return `sat,${colorLevel(level)}`;
}

/**
 * `pad,WxH[:RRGGBB[AA]]`: extends the canvas to `width`×`height` around the centred image, the
 * border in `color` (hex, 6 or 8 digits; transparent when absent).
 *
 * @throws {RangeError} for a size below 1 or a colour that is not 6 or 8 hex digits
 */
export function pad(width: number, height: number, color?: string): Step {
  side(width, "width", 1);
  side(height, "height", 1);
  if (color === undefined) return `pad,${width}x${height}`;
  if (!/^(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.test(color)) {
    throw new RangeError(`A pad colour is RRGGBB or RRGGBBAA in hex, not "${color}"`);
  }
  return `pad,${width}x${height}:${color}`;
}

/** `wm,NAME`: composites the watermark the server's config names `name`. */
export function watermark(name: string): Step {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new RangeError(`A watermark name uses letters, digits, "_" and "-", not "${name}"`);
  }
  return `wm,${name}`;
}

function colorLevel(level: number): number {
  if (!Number.isInteger(level) || level < -100 || level > 100) {
    throw new RangeError(`A level must be an integer from -100 to 100, not ${level}`);
  }
  return level;
}

/** What {@link imageUrl} needs. */
export interface ImageUrlOptions {
  /** Scheme and host, like `https://img.example.com`; without it the answer is a path. */
  base?: string;
  /** The server's `http.root`; default `/impressionist`. */
  root?: string;
  /**
   * The chain as text (`s,300x0,gs`) or as steps (`[resize(300, 0), grayscale()]`); empty
   * (`[]`, `""` or {@link none}) converts the source only.
   */
  chain: string | readonly Step[];
  /** `png`, `jpeg`, `webp`, `avif`, `gif`, `auto`, optionally with a quality: `webp,80`. */
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
 * @throws {RangeError} for an empty format or storage, or a path segment the server refuses
 *   (empty, `.`, `..`)
 */
export async function imageUrl(options: ImageUrlOptions): Promise<string> {
  const chain = chainText(options.chain) || none;
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
  const before = chainText(chain);
  const candidates = await Promise.all(widths.map(async (width) => {
    const steps = before ? [before, resize(width, 0)] : [resize(width, 0)];
    const url = await imageUrl({ ...rest, chain: steps });
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

/** What {@link imageInfo} needs: {@link imageUrl}'s options less the format; chain optional. */
export interface ImageInfoOptions extends Omit<ImageUrlOptions, "format" | "chain"> {
  /** The chain whose result is described; `none` (the stored image itself) when absent. */
  chain?: string | readonly Step[];
}

/**
 * The URL of the `info` answer for an image (JSON: its size, the source's facts, whether it
 * has transparency, its average and dominant colours, its ThumbHash and BlurHash), signed
 * like {@link imageUrl}. Fetch it, then draw `thumbhash` with {@link placeholderDataUrl}.
 *
 * @example
 * ```ts
 * const url = await imageInfo({ chain: [resize(640, 0)], storage: "photos", path: "cat.jpg" });
 * const { width, height, thumbhash } = await (await fetch(url)).json();
 * ```
 */
export function imageInfo(options: ImageInfoOptions): Promise<string> {
  const { chain = none, ...rest } = options;
  return imageUrl({ ...rest, chain, format: "info" });
}

/**
 * A `data:image/png` URL of the small image (32 px on its longer side) a ThumbHash stands for,
 * for an `<img>`'s background while the image loads. `thumbhash` is the base64 text of
 * `info`'s `thumbhash` field. The decoding follows the ThumbHash reference (the `thumbhash`
 * npm package's `thumbHashToDataURL`), written out here because this module imports nothing.
 *
 * @throws {RangeError} when the text is not base64 of a ThumbHash
 */
export function placeholderDataUrl(thumbhash: string): string {
  let hash: Uint8Array;
  try {
    hash = Uint8Array.from(atob(thumbhash), (c) => c.charCodeAt(0));
  } catch {
    throw new RangeError(`Not a base64 ThumbHash: "${thumbhash}"`);
  }
  if (hash.length < 5) throw new RangeError(`Not a ThumbHash: "${thumbhash}" is too short`);
  const { width, height, rgba } = renderThumbHash(hash);
  return `data:image/png;base64,${btoa(String.fromCharCode(...storedPng(width, height, rgba)))}`;
}

/** ThumbHash's header: the DC terms, the AC scales, and how many AC terms each channel has. */
function thumbHashHeader(hash: Uint8Array) {
  const low = hash[0] | hash[1] << 8 | hash[2] << 16;
  const high = hash[3] | hash[4] << 8;
  const alpha = (low >> 23) === 1;
  const landscape = (high >> 15) === 1;
  const long = alpha ? 5 : 7;
  return {
    alpha,
    l: (low & 63) / 63,
    p: ((low >> 6) & 63) / 31.5 - 1,
    q: ((low >> 12) & 63) / 31.5 - 1,
    a: alpha ? (hash[5] & 15) / 15 : 1,
    lScale: ((low >> 18) & 31) / 31,
    pScale: ((high >> 3) & 63) / 63,
    qScale: ((high >> 9) & 63) / 63,
    aScale: (hash[5] >> 4) / 15,
    // The luminance grid, stored and as the aspect ratio is estimated from it.
    lx: landscape ? long : high & 7,
    ly: landscape ? high & 7 : long,
  };
}

/** The triangle of DCT terms ThumbHash keeps for an nx by ny grid, without the DC term. */
function* acTerms(nx: number, ny: number): Generator<[number, number]> {
  for (let cy = 0; cy < ny; cy++) {
    for (let cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++) yield [cx, cy];
  }
}

/** Decodes a ThumbHash into straight RGBA, 32 px on its longer side. */
function renderThumbHash(hash: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  const h = thumbHashHeader(hash);
  const lx = Math.max(3, h.lx);
  const ly = Math.max(3, h.ly);
  let nibble = 0;
  const start = h.alpha ? 6 : 5;
  // Each AC term is a nibble, low first; chroma is boosted 1.25x against quantisation.
  const channel = (nx: number, ny: number, scale: number) =>
    [...acTerms(nx, ny)].map(([cx, cy]) => {
      const value = (hash[start + (nibble >> 1)] >> ((nibble++ & 1) << 2)) & 15;
      return { cx, cy, value: (value / 7.5 - 1) * scale };
    });
  const lTerms = channel(lx, ly, h.lScale);
  const pTerms = channel(3, 3, h.pScale * 1.25);
  const qTerms = channel(3, 3, h.qScale * 1.25);
  const aTerms = h.alpha ? channel(5, 5, h.aScale) : [];
  const ratio = h.lx / h.ly;
  const width = Math.round(ratio > 1 ? 32 : 32 * ratio);
  const height = Math.round(ratio > 1 ? 32 / ratio : 32);
  const rgba = new Uint8Array(width * height * 4);
  const terms = Math.max(lx, ly, h.alpha ? 5 : 3);
  for (let y = 0, i = 0; y < height; y++) {
    const fy = Array.from({ length: terms }, (_, c) => Math.cos(Math.PI / height * (y + 0.5) * c));
    for (let x = 0; x < width; x++, i += 4) {
      const fx = Array.from({ length: terms }, (_, c) => Math.cos(Math.PI / width * (x + 0.5) * c));
      // Multiplied in the reference's order, so the pixels are the same to the bit.
      const sum = (dc: number, list: { cx: number; cy: number; value: number }[]) =>
        list.reduce((total, t) => total + t.value * fx[t.cx] * (fy[t.cy] * 2), dc);
      const chroma = (dc: number, list: { cx: number; cy: number; value: number }[]) =>
        list.reduce((total, t) => total + t.value * (fx[t.cx] * (fy[t.cy] * 2)), dc);
      const l = sum(h.l, lTerms);
      const p = chroma(h.p, pTerms);
      const q = chroma(h.q, qTerms);
      const b = l - 2 / 3 * p;
      const r = (3 * l - b + q) / 2;
      const g = r - q;
      const a = sum(h.a, aTerms);
      [r, g, b, a].forEach((v, c) => rgba[i + c] = Math.max(0, 255 * Math.min(1, v)));
    }
  }
  return { width, height, rgba };
}

/** CRC-32 (PNG's, polynomial 0xEDB88320) of `bytes`. */
function crc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

/** A PNG of straight RGBA whose zlib stream stores every row uncompressed (tiny images only). */
function storedPng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const row = width * 4 + 1;
  const zlib = [0x78, 0x01];
  let a = 1, b = 0;
  for (let y = 0; y < height; y++) {
    // One stored deflate block per row: final flag, length, its complement, filter byte 0.
    zlib.push(y + 1 < height ? 0 : 1, row & 255, row >> 8, ~row & 255, (row >> 8) ^ 255);
    const line = [0, ...rgba.subarray(y * width * 4, (y + 1) * width * 4)];
    for (const byte of line) {
      a = (a + byte) % 65521;
      b = (b + a) % 65521;
    }
    zlib.push(...line);
  }
  zlib.push(b >> 8, b & 255, a >> 8, a & 255);
  const chunk = (type: string, data: number[]) => {
    const body = new Uint8Array([...new TextEncoder().encode(type), ...data]);
    const crc = crc32(body);
    return [...be32(data.length), ...body, ...be32(crc)];
  };
  return new Uint8Array([
    137,
    80,
    78,
    71,
    13,
    10,
    26,
    10,
    ...chunk("IHDR", [...be32(width), ...be32(height), 8, 6, 0, 0, 0]),
    ...chunk("IDAT", zlib),
    ...chunk("IEND", []),
  ]);
}

function be32(n: number): number[] {
  return [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255];
}
