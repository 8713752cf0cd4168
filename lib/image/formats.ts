/** Formats we can read, as sniffed from the bytes. */
export type SourceFormat = "jpeg" | "png" | "gif" | "tiff" | "webp" | "bmp" | "avif";

/** Formats an encoder writes. */
export type EncodedType = "png" | "jpeg" | "webp" | "gif" | "avif" | "jxl";

/** What a result holds: an encoded image, or `info`, the JSON facts about the image. */
export type ResultType = EncodedType | "info";

/**
 * An output format with its resolved quality. `auto` is decided in the worker, once the image
 * is known (see `resolveFormat`). `info` answers JSON facts about the result instead of it.
 */
export interface OutputFormat {
  type: ResultType | "auto";
  /** 1..100, used by lossy formats. */
  quality: number;
  /** WebP only: lossless instead of `quality`. */
  lossless?: boolean;
  /** `auto` only: whether the client's `Accept` takes WebP. */
  webp?: boolean;
  /** `auto` only: whether AVIF is enabled (`image.autoAvif`) and the client takes it. */
  avif?: boolean;
  /** `auto` only: the quality should it become AVIF (`image.avifQuality`, unless Q was given). */
  avifQuality?: number;
  /** `auto` only: whether JPEG XL is enabled (`image.autoJxl`) and the client takes it. */
  jxl?: boolean;
  /** `info` only: the BlurHash's components across and down (`image.blurhashComponents`). */
  blurhashComponents?: { x: number; y: number };
  /** The colour transparent pixels are flattened onto for JPEG, `RRGGBB` (default white). */
  background?: string;
  /** JPEG: write a progressive file (`image.progressive`), where the encoder can. */
  progressive?: boolean;
}

/** The Content-Type of each result. */
export const contentTypes: Record<ResultType, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
  jxl: "image/jxl",
  info: "application/json",
};

/**
 * The largest AVIF side we write. AV1 codes up to 65536, but libavif's decoder (browsers', and
 * @jsquash/avif's) refuses sides over 32768 by default: a larger file would not display.
 */
const AVIF_MAX_SIDE = 32768;

/**
 * The largest JPEG XL side we write. The codestream's level 5 (which every decoder takes)
 * allows 2^18 per side, but the encoder (@jsquash/jxl 1.3.0's libjxl) fails above 131328,
 * measured on 1-pixel-thin images both ways.
 */
export const JXL_MAX_SIDE = 131328;

/**
 * The zlib level every backend deflates PNG at, each row with its own filter (adaptive): level 3
 * takes half level 6's time or less on a 512x340 photo for 1.5–2 % more bytes (sharp 15 against 30
 * ms, 224 against 219 kB; GraphicsMagick 21 against 55 ms, ImageMagick 18 against 60, 303 against
 * 297 KiB; the pure backend 20–25 against 25–30 ms, its own row filters being most of its time).
 */
export const PNG_DEFLATE_LEVEL = 3;

/**
 * From this JPEG quality up, every backend keeps chroma at full resolution (4:4:4), as libjpeg's
 * tools and ImageMagick do by default; below it, 4:2:0.
 */
export function jpegFullChroma(quality: number): boolean {
  return quality >= 90;
}

/**
 * The widest and tallest image each encoder can write. JPEG's header has 16 bits per side,
 * but libjpeg (mozjpeg, libjpeg-turbo: every JPEG encoder the backends use) stops at 65500;
 * GIF has 16 bits; WebP 14 bits (16383); PNG 31 bits; AVIF see above.
 */
export const maxSides: ReadonlyMap<EncodedType, number> = new Map([
  ["jpeg", 65500],
  ["gif", 65535],
  ["webp", 16383],
  ["png", 2 ** 31 - 1],
  ["avif", AVIF_MAX_SIDE],
  ["jxl", JXL_MAX_SIDE],
]);

/**
 * The most pixels an encoder may be given where the encode is one WebAssembly call nothing
 * can interrupt, so that it ends well within `http.timeout`'s default (30 s) and the worker is
 * free soon after a 503. JPEG XL at effort 3 (lib/image/jxl.ts), measured on this 2-core
 * machine under load: the bench photo at 3 MP 1.6 s (0.5 µs a pixel); noise, its worst case,
 * 1.2–1.4 µs a pixel, so 4–6 s and a ~340 MB peak at 2^22 pixels (2048x2048). Formats not
 * listed are stopped by the job's cancellation, or bounded by their planned time and memory
 * (lib/image/codec_costs.ts).
 */
export const maxEncodePixels: ReadonlyMap<EncodedType, number> = new Map([
  ["jxl", 2 ** 22],
]);

/**
 * Whether an `Accept` header lists `image/{subtype}` with a weight above 0: a `q=0` refuses
 * it wherever it stands among the media type's parameters (`image/webp;level=1;q=0`).
 */
export function takes(accept: string, subtype: "webp" | "avif" | "jxl"): boolean {
  return accept.split(",").some((range) => {
    const [type, ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    if (type !== `image/${subtype}`) return false;
    const q = params.find((param) => /^q\s*=/.test(param));
    return q === undefined || Number(q.replace(/^q\s*=\s*/, "")) > 0;
  });
}

/**
 * Notes for `auto` whether the request's `Accept` header takes WebP, AVIF when `autoAvif`
 * allows it (`image.autoAvif`), and JPEG XL when `autoJxl` does (`image.autoJxl`).
 */
export function negotiate(
  format: OutputFormat,
  accept: string | null,
  autoAvif = false,
  autoJxl = false,
): OutputFormat {
  if (format.type !== "auto") return format;
  return {
    ...format,
    webp: takes(accept ?? "", "webp"),
    avif: autoAvif && takes(accept ?? "", "avif"),
    jxl: autoJxl && takes(accept ?? "", "jxl"),
  };
}

/**
 * The types a result of `format` can be: its own, or for `auto` every type `resolveFormat` may
 * choose under the negotiation: GIF, PNG and JPEG always, WebP, AVIF and JPEG XL when the
 * request's `Accept` (and `image.autoAvif`, `image.autoJxl`) allowed them.
 */
export function possibleTypes(format: OutputFormat): ReadonlySet<ResultType> {
  if (format.type !== "auto") return new Set([format.type]);
  const types = new Set<ResultType>(["gif", "png", "jpeg"]);
  if (format.webp) types.add("webp");
  if (format.avif) types.add("avif");
  if (format.jxl) types.add("jxl");
  return types;
}

/**
 * Decides `auto` for a finished image, among the types that can hold it (`fitting`, from
 * planning): GIF for an animation, else JPEG XL when enabled and the client takes it, else
 * AVIF when enabled and the client takes it, else WebP
 * when the client takes it, else PNG when the image has transparency or JPEG cannot hold it,
 * else JPEG. Other formats pass through.
 */
export async function resolveFormat(
  format: OutputFormat,
  image: { frameCount: number; hasAlpha(): boolean | Promise<boolean> },
  fitting: ReadonlySet<EncodedType> = new Set(maxSides.keys()),
): Promise<OutputFormat> {
  if (format.type !== "auto") return format;
  if (image.frameCount === 1 && format.jxl && fitting.has("jxl")) {
    return { ...format, type: "jxl" };
  }
  if (image.frameCount === 1 && format.avif && fitting.has("avif")) {
    return { ...format, type: "avif", quality: format.avifQuality ?? format.quality };
  }
  const type = image.frameCount > 1
    ? "gif"
    : format.webp && fitting.has("webp")
    ? "webp"
    : !fitting.has("jpeg") || await image.hasAlpha()
    ? "png"
    : "jpeg";
  return { ...format, type };
}
