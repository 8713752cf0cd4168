/** Formats we can read, as sniffed from the bytes. */
export type SourceFormat = "jpeg" | "png" | "gif" | "tiff" | "webp" | "bmp";

/** Formats an encoder writes. */
export type EncodedType = "png" | "jpeg" | "webp" | "gif";

/**
 * An output format with its resolved quality. `auto` is decided in the worker, once the image
 * is known: GIF for an animation, else WebP when the client takes it, else PNG when the result
 * has transparency and JPEG when not.
 */
export interface OutputFormat {
  type: EncodedType | "auto";
  /** 1..100, used by lossy formats. */
  quality: number;
  /** WebP only: lossless instead of `quality`. */
  lossless?: boolean;
  /** `auto` only: whether the client's `Accept` takes WebP. */
  webp?: boolean;
  /** JPEG: write a progressive file (`image.progressive`), where the encoder can. */
  progressive?: boolean;
}

/** The Content-Type of each encoded format. */
export const contentTypes: Record<EncodedType, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
};

/**
 * The widest and tallest image each encoder can write. JPEG's header has 16 bits per side,
 * but libjpeg (mozjpeg, libjpeg-turbo: every JPEG encoder the backends use) stops at 65500;
 * GIF has 16 bits; WebP 14 bits (16383); PNG 31 bits.
 */
export const maxSides: ReadonlyMap<EncodedType, number> = new Map([
  ["jpeg", 65500],
  ["gif", 65535],
  ["webp", 16383],
  ["png", 2 ** 31 - 1],
]);

/** Notes for `auto` whether the request's `Accept` header takes WebP (and not with q=0). */
export function negotiate(format: OutputFormat, accept: string | null): OutputFormat {
  if (format.type !== "auto") return format;
  const takesWebp = /(^|,)\s*image\/webp\s*(;(?!\s*q=0(\.0*)?\s*(,|$))|,|$)/i.test(accept ?? "");
  return { ...format, webp: takesWebp };
}

/**
 * Decides `auto` for a finished image, among the types that can hold it (`fitting`, from
 * planning): GIF for an animation, else WebP when the client takes it, else PNG when the image
 * has transparency or JPEG cannot hold it, else JPEG. Other formats pass through.
 */
export function resolveFormat(
  format: OutputFormat,
  image: { frameCount: number; hasAlpha(): boolean },
  fitting: ReadonlySet<EncodedType> = new Set(maxSides.keys()),
): OutputFormat {
  if (format.type !== "auto") return format;
  const type = image.frameCount > 1
    ? "gif"
    : format.webp && fitting.has("webp")
    ? "webp"
    : !fitting.has("jpeg") || image.hasAlpha()
    ? "png"
    : "jpeg";
  return { ...format, type };
}
