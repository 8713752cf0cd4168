import type { ResultType, SourceFormat } from "./formats.ts";

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
  if (isAvif(bytes)) return "avif";
  return undefined;
}

/**
 * An ISO-BMFF file whose `ftyp` box names an AVIF brand, as its major brand or among the
 * compatible ones (`avif` for a still image, `avis` for a sequence). HEIC files, which share
 * the container, carry neither and are not recognised.
 */
function isAvif(bytes: Uint8Array): boolean {
  if (!hasAscii(bytes, 4, "ftyp")) return false;
  const size = (bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]) >>> 0;
  const end = Math.min(size, bytes.length);
  for (let at = 8; at + 4 <= end; at += 4) {
    if (at === 12) continue; // the minor version, not a brand
    if (hasAscii(bytes, at, "avif") || hasAscii(bytes, at, "avis")) return true;
  }
  return false;
}

/** The JPEG XL signatures: a bare codestream, or the ISO-BMFF container's `JXL ` box. */
function isJxl(bytes: Uint8Array): boolean {
  return (bytes[0] === 0xff && bytes[1] === 0x0a) ||
    hasAscii(bytes, 0, "\0\0\0\x0cJXL \r\n\x87\n");
}

/**
 * The format of an encoder's output: the source formats it shares, JPEG XL, which we write
 * but do not read, or `info` (a JSON object).
 */
export function sniffEncoded(bytes: Uint8Array): ResultType | undefined {
  if (isJxl(bytes)) return "jxl";
  if (bytes[0] === 0x7b) return "info"; // "{"
  const format = sniffFormat(bytes);
  return format === "tiff" || format === "bmp" ? undefined : format;
}
