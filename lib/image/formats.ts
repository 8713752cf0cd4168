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

/** Decides `auto` for a finished image; other formats pass through. */
export function resolveFormat(
  format: OutputFormat,
  image: { frameCount: number; hasAlpha(): boolean },
): OutputFormat {
  if (format.type !== "auto") return format;
  if (image.frameCount === 1 && format.avif) {
    return { ...format, type: "avif", quality: format.avifQuality ?? format.quality };
  }
  const type = image.frameCount > 1
    ? "gif"
    : format.webp
    ? "webp"
    : image.hasAlpha()
    ? "png"
    : "jpeg";
  return { ...format, type };
}
