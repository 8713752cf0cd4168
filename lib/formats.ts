/** Formats we can read, as sniffed from the bytes. */
export type SourceFormat = "jpeg" | "png" | "gif" | "tiff" | "webp" | "bmp";

/** Formats an encoder writes. */
export type EncodedType = "png" | "jpeg" | "webp";

/**
 * An output format with its resolved quality. `auto` reaches the worker only when the client
 * does not take WebP: it then means PNG when the result has transparency, JPEG when not.
 */
export interface OutputFormat {
  type: EncodedType | "auto";
  /** 1..100, used by lossy formats. */
  quality: number;
  /** WebP only: lossless instead of `quality`. */
  lossless?: boolean;
}

/** The Content-Type of each encoded format. */
export const contentTypes: Record<EncodedType, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
};

/** Resolves `auto` for a request's `Accept` header: WebP when the client takes it. */
export function negotiate(format: OutputFormat, accept: string | null): OutputFormat {
  if (format.type !== "auto") return format;
  const takesWebp = /(^|,)\s*image\/webp\s*(;(?!\s*q=0(\.0*)?\s*(,|$))|,|$)/i.test(accept ?? "");
  return takesWebp ? { ...format, type: "webp" } : format;
}
