/** Formats we can read, as sniffed from the bytes. */
export type SourceFormat = "jpeg" | "png" | "gif" | "tiff" | "webp" | "bmp";

/** An output format with its resolved quality. */
export interface OutputFormat {
  type: "png" | "jpeg";
  /** 1..100, used by lossy formats. */
  quality: number;
}

/** The Content-Type of each output format. */
export const contentTypes: Record<OutputFormat["type"], string> = {
  png: "image/png",
  jpeg: "image/jpeg",
};
