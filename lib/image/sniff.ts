import type { EncodedType, SourceFormat } from "./formats.ts";

/** Whether `bytes` holds the ASCII `text` at `offset` (false when the bytes run out). */
export function hasAscii(bytes: Uint8Array, offset: number, text: string): boolean {
  if (offset + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** The sizes of the DIB headers Windows and OS/2 bitmaps use, from BITMAPCOREHEADER to V5. */
const bmpHeaderSizes = new Set([12, 40, 52, 56, 108, 124]);

/** "BM" alone starts plenty of text files; a known DIB header size right after makes it a bitmap. */
function isBmp(bytes: Uint8Array): boolean {
  if (!hasAscii(bytes, 0, "BM") || bytes.length < 18) return false;
  const dibSize = bytes[14] | bytes[15] << 8 | bytes[16] << 16 | bytes[17] << 24;
  return bmpHeaderSizes.has(dibSize);
}

/**
 * Tells the format of an image from its magic bytes alone, without decoding anything. Formats
 * a decoder could be tricked into interpreting (SVG, PostScript, PDF) are not recognised.
 *
 * @example
 * ```ts
 * sniffFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // "jpeg"
 * sniffFormat(new TextEncoder().encode("<svg/>")); // undefined
 * ```
 */
export function sniffFormat(bytes: Uint8Array): SourceFormat | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (hasAscii(bytes, 0, "\x89PNG\r\n\x1a\n")) return "png";
  if (hasAscii(bytes, 0, "GIF87a") || hasAscii(bytes, 0, "GIF89a")) return "gif";
  if (hasAscii(bytes, 0, "II*\0") || hasAscii(bytes, 0, "MM\0*")) return "tiff";
  if (hasAscii(bytes, 0, "RIFF") && hasAscii(bytes, 8, "WEBP")) return "webp";
  if (isBmp(bytes)) return "bmp";
  return undefined;
}

/**
 * The format of an encoder's output: the source formats it shares, or AVIF (an ISO-BMFF
 * `ftyp` box of brand `avif`), which we write but do not read.
 */
export function sniffEncoded(bytes: Uint8Array): EncodedType | undefined {
  if (hasAscii(bytes, 4, "ftypavif")) return "avif";
  const format = sniffFormat(bytes);
  return format === "tiff" || format === "bmp" ? undefined : format;
}
