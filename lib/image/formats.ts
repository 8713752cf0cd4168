/** Formats we can read, as sniffed from the bytes. */
export type SourceFormat = "jpeg" | "png" | "gif" | "tiff" | "webp" | "bmp";

/** Formats an encoder writes. */
export type EncodedType = "png" | "jpeg" | "webp" | "gif" | "avif";

/**
 * An output format with its resolved quality. `auto` is decided in the worker, once the image
 * is known: GIF for an animation, else AVIF when enabled and the client takes it, else WebP
 * when the client takes it, else PNG when the result has transparency and JPEG when not.
 */
export interface OutputFormat {
  type: EncodedType | "auto";
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
  /** The colour transparent pixels are flattened onto for JPEG, `RRGGBB` (default white). */
  background?: string;
  /** JPEG: write a progressive file (`image.progressive`), where the encoder can. */
  progressive?: boolean;
}

/** The Content-Type of each encoded format. */
export const contentTypes: Record<EncodedType, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
};

/**
 * The largest AVIF side we write. AV1 codes up to 65536, but libavif's decoder (browsers', and
 * @jsquash/avif's) refuses sides over 32768 by default: a larger file would not display.
 */
const AVIF_MAX_SIDE = 32768;

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
]);

/** Whether an `Accept` header lists `image/{subtype}` (and not with q=0). */
function takes(accept: string, subtype: "webp" | "avif"): boolean {
  return new RegExp(`(^|,)\\s*image/${subtype}\\s*(;(?!\\s*q=0(\\.0*)?\\s*(,|$))|,|$)`, "i")
    .test(accept);
}

/**
 * Notes for `auto` whether the request's `Accept` header takes WebP, and AVIF when `autoAvif`
 * allows it (`image.autoAvif`).
 */
export function negotiate(
  format: OutputFormat,
  accept: string | null,
  autoAvif = false,
): OutputFormat {
  if (format.type !== "auto") return format;
  return {
    ...format,
    webp: takes(accept ?? "", "webp"),
    avif: autoAvif && takes(accept ?? "", "avif"),
  };
}

/**
 * The types a result of `format` can be: its own, or for `auto` every type `resolveFormat` may
 * choose under the negotiation: GIF, PNG and JPEG always, WebP and AVIF when the request's
 * `Accept` (and `image.autoAvif`) allowed them.
 */
export function possibleTypes(format: OutputFormat): ReadonlySet<EncodedType> {
  if (format.type !== "auto") return new Set([format.type]);
  const types = new Set<EncodedType>(["gif", "png", "jpeg"]);
  if (format.webp) types.add("webp");
  if (format.avif) types.add("avif");
  return types;
}

/**
 * Decides `auto` for a finished image, among the types that can hold it (`fitting`, from
 * planning): GIF for an animation, else AVIF when enabled and the client takes it, else WebP
 * when the client takes it, else PNG when the image has transparency or JPEG cannot hold it,
 * else JPEG. Other formats pass through.
 */
export async function resolveFormat(
  format: OutputFormat,
  image: { frameCount: number; hasAlpha(): boolean | Promise<boolean> },
  fitting: ReadonlySet<EncodedType> = new Set(maxSides.keys()),
): Promise<OutputFormat> {
  if (format.type !== "auto") return format;
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
