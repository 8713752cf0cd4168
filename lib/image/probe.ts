import { Unprocessable } from "../errors.ts";
import type { SourceFormat } from "./formats.ts";
import { av1MaxFrameSize } from "./av1_sequence.ts";
import { concatBytes } from "./bytes.ts";
import type { Size } from "./bitmap.ts";
import { hasAscii, sniffFormat } from "./sniff.ts";

/** What the headers of an image say, before any pixel is decoded. */
export interface ImageInfo {
  /** Stored width in pixels, before any EXIF orientation is applied. */
  width: number;
  /** Stored height in pixels, before any EXIF orientation is applied. */
  height: number;
  /** How many frames a decoder would read, for GIF and animated WebP. */
  frames?: number;
  /** The EXIF orientation, 1..8; 1 when absent or invalid. */
  orientation: number;
  /** Bits per sample, for JPEG (its frame header's precision: 8, or 12 for a 12-bit file). */
  bitDepth?: number;
  /** For TIFF: the decoded bytes of its largest strip or tile, which a reader holds whole. */
  stripBytes?: number;
  /**
   * For a progressive JPEG: its scans, each a pass of the decoder over the whole image at any
   * scale; counted when the probe reads every scan (not at depth `headers`).
   */
  progressiveScans?: number;
}

/**
 * Bounds-checked reads from the bytes of one header. Every read past the end fails with the
 * same message, so a walk over hostile input ends with the data instead of looping.
 */
class Header {
  constructor(readonly bytes: Uint8Array, readonly name: string) {}

  fail(reason: string): never {
    throw new Unprocessable(`Cannot read the ${this.name} header: ${reason}`);
  }

  need(end: number): void {
    if (end > this.bytes.length) this.fail("the file is truncated");
  }

  u8(at: number): number {
    this.need(at + 1);
    return this.bytes[at];
  }

  u16(at: number, little = false): number {
    this.need(at + 2);
    const first = this.bytes[at];
    const second = this.bytes[at + 1];
    return little ? first | second << 8 : first << 8 | second;
  }

  u24le(at: number): number {
    return this.u16(at, true) + this.u8(at + 2) * 0x10000;
  }

  u32(at: number, little = false): number {
    const low = little ? this.u16(at, true) : this.u16(at + 2);
    const high = little ? this.u16(at + 2, true) : this.u16(at);
    return high * 0x10000 + low;
  }

  i32le(at: number): number {
    return this.u32(at, true) | 0;
  }

  is(at: number, text: string): boolean {
    return hasAscii(this.bytes, at, text);
  }
}

const names: Record<SourceFormat, string> = {
  jpeg: "JPEG",
  png: "PNG",
  gif: "GIF",
  tiff: "TIFF",
  webp: "WebP",
  bmp: "BMP",
  avif: "AVIF",
};

/**
 * How far a probe reads: `whole` checks the whole structure (a JPEG's every scan: what the worker
 * does before a decoder that reads every scan); `headers` stops where the size is known for sure
 * (a JPEG's first scan), enough to plan a job's memory without a walk over megabytes of
 * entropy-coded data; `libjpeg` checks what libjpeg will read: every scan of a progressive or
 * multi-scan JPEG, but only the first of a sequential one whose first scan holds every component,
 * since libjpeg refuses a second scan there (JERR_EOI_EXPECTED) before reading its data.
 */
export type ProbeDepth = "whole" | "headers" | "libjpeg";

const probes: Record<SourceFormat, (header: Header, depth: ProbeDepth) => ImageInfo> = {
  jpeg: probeJpeg,
  png: probePng,
  gif: probeGif,
  tiff: readIfd0,
  webp: probeWebp,
  bmp: probeBmp,
  avif: probeAvif,
};

/**
 * Reads the size (and orientation, and frame count) of an image from its headers alone, so a
 * decompression bomb can be refused before a decoder allocates for it. Costs no more than a
 * walk over the bytes and allocates nothing in proportion to the claimed size.
 *
 * `depth` says how much of the structure is checked (see `ProbeDepth`).
 *
 * @throws {Unprocessable} when the headers are truncated or corrupt, or claim no pixels
 * @example
 * ```ts
 * const { width, height } = probeImage(bytes, "png");
 * ```
 */
export function probeImage(
  bytes: Uint8Array,
  format: SourceFormat,
  depth: ProbeDepth = "whole",
): ImageInfo {
  const header = new Header(bytes, names[format]);
  if (sniffFormat(bytes) !== format) header.fail(`the file is not a ${header.name} image`);
  const info = probes[format](header, depth);
  if (!(info.width > 0 && info.height > 0)) {
    header.fail(`the image is ${info.width}x${info.height} pixels`);
  }
  return info;
}

function probePng(h: Header): ImageInfo {
  if (!h.is(12, "IHDR")) h.fail("the IHDR chunk is missing");
  return { width: h.u32(16), height: h.u32(20), orientation: 1 };
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const APP1 = 0xe1;

/** Markers without a length field: TEM, RST0..RST7 and SOI. */
function isStandalone(marker: number): boolean {
  return marker === TEM || (marker >= 0xd0 && marker <= SOI);
}

/** SOF2, SOF6, SOF10 and SOF14: the progressive frames, whose image is refined scan by scan. */
function isProgressive(marker: number): boolean {
  return marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce;
}

/** SOF0..SOF15, less the three codes in that range that mean something else (DHT, JPG, DAC). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
    marker !== 0xcc;
}

/**
 * The most scans a JPEG may have. A progressive JPEG can repeat scans without end, each one
 * costing a decoder a pass over the whole image; libjpeg-based decoders stop at 100 as well.
 */
export const MAX_JPEG_SCANS = 100;

/**
 * Walks every JPEG segment, noting the frame header and the EXIF orientation, and counts the
 * scans: the bytes of each scan's entropy-coded data are skipped by looking for the next marker
 * (0xFF followed by neither 0x00, a stuffed byte, nor a restart marker).
 */
function probeJpeg(h: Header, depth: ProbeDepth): ImageInfo {
  const { bytes } = h;
  let orientation: number | undefined;
  let size: { width: number; height: number; bitDepth: number } | undefined;
  let sequential = false;
  let components = 0;
  let scans = 0;
  let at = 2;
  while (at < bytes.length) {
    // Past the frame header, stray bytes before a marker are skipped, as libjpeg does.
    if (size && bytes[at] !== 0xff) at = nextMarker(bytes, at);
    if (at >= bytes.length) break;
    if (h.u8(at) !== 0xff) h.fail(`expected a marker at byte ${at}`);
    while (h.u8(at) === 0xff) at++; // fill bytes may pad any marker
    const marker = h.u8(at++);
    if (isStandalone(marker)) continue;
    if (marker === EOI) break;
    if (!size && marker === SOS) h.fail("the frame header is missing");
    const length = h.u16(at);
    if (length < 2) h.fail(`a segment at byte ${at} has the impossible length ${length}`);
    if (isStartOfFrame(marker)) {
      if (size) h.fail("the file has a second frame header");
      size = { width: h.u16(at + 5), height: h.u16(at + 3), bitDepth: h.u8(at + 2) };
      components = h.u8(at + 7);
      sequential = !isProgressive(marker);
    }
    // libjpeg decodes a sequential frame from this scan alone and refuses any scan after it.
    const onlyScan = marker === SOS && scans === 0 && sequential && h.u8(at + 2) === components;
    if (marker === APP1 && orientation === undefined && h.is(at + 2, "Exif\0\0")) {
      orientation = exifOrientation(bytes.subarray(at + 8, at + length));
    }
    at += length;
    // Every segment a decoder reads before its first scan has been seen (libjpeg's header).
    if (marker === SOS && depth === "headers") break;
    if (onlyScan && depth === "libjpeg") break;
    if (marker === SOS) {
      if (++scans > MAX_JPEG_SCANS) h.fail(`the file has more than ${MAX_JPEG_SCANS} scans`);
      at = nextMarker(bytes, at);
    }
  }
  // A file cut short after its frame header still shows what was read, as decoders do.
  if (!size) h.fail("the frame header is missing");
  const progressive = !sequential && depth !== "headers" ? { progressiveScans: scans } : {};
  return { ...size, orientation: orientation ?? 1, ...progressive };
}

/** The offset of the first marker at or after `at` in entropy-coded data, or the end. */
function nextMarker(bytes: Uint8Array, at: number): number {
  for (;;) {
    at = bytes.indexOf(0xff, at);
    if (at < 0 || at + 1 >= bytes.length) return bytes.length;
    const next = bytes[at + 1];
    if (next !== 0 && !(next >= 0xd0 && next <= 0xd7)) return at;
    at += 2;
  }
}

const GIF_IMAGE = 0x2c;
const GIF_EXTENSION = 0x21;

/** The size of the colour table a GIF packed-fields byte announces, 0 when there is none. */
function colorTableBytes(packed: number): number {
  return packed & 0x80 ? 3 << ((packed & 7) + 1) : 0;
}

/** The offset after a chain of data sub-blocks, or the end of the data if it is cut short. */
function skipSubBlocks(bytes: Uint8Array, at: number): number {
  while (at < bytes.length) {
    const size = bytes[at];
    at += 1 + size;
    if (size === 0) return at;
  }
  return bytes.length;
}

/**
 * Reads the logical screen and counts the image descriptors, skipping their LZW data unread.
 * A GIF cut short or followed by junk still shows the frames before, as decoders do. A frame
 * reaching beyond the screen is refused, as Go's image/gif does: the decoders allocate a frame
 * at its own size, so a 50-byte file could otherwise claim gigabytes past the pixel limit.
 */
function probeGif(h: Header): ImageInfo {
  const { bytes } = h;
  const width = h.u16(6, true);
  const height = h.u16(8, true);
  let at = 13 + colorTableBytes(h.u8(10));
  let frames = 0;
  while (at < bytes.length) {
    if (bytes[at] === GIF_IMAGE && at + 10 <= bytes.length) {
      frames++;
      const right = h.u16(at + 1, true) + h.u16(at + 5, true);
      const bottom = h.u16(at + 3, true) + h.u16(at + 7, true);
      if (right > width || bottom > height) {
        h.fail(`frame ${frames} reaches beyond the ${width}x${height} logical screen`);
      }
      at = skipSubBlocks(bytes, at + 10 + colorTableBytes(bytes[at + 9]) + 1);
    } else if (bytes[at] === GIF_EXTENSION) {
      at = skipSubBlocks(bytes, at + 2);
    } else {
      break; // the trailer, or junk a decoder ignores as well
    }
  }
  if (frames === 0) h.fail("the file has no image");
  return { width, height, frames, orientation: 1 };
}

const TIFF_WIDTH = 0x100;
const TIFF_HEIGHT = 0x101;
const TIFF_ORIENTATION = 0x112;
const sizeTags = new Set([TIFF_WIDTH, TIFF_HEIGHT]);
const TIFF_SHORT = 3;
const TIFF_LONG = 4;

/** A single SHORT or LONG value of an IFD entry; 0 for any other type or count. */
function tiffNumber(h: Header, entry: number, little: boolean): number {
  if (h.u32(entry + 4, little) !== 1) return 0;
  const type = h.u16(entry + 2, little);
  if (type === TIFF_SHORT) return h.u16(entry + 8, little);
  if (type === TIFF_LONG) return h.u32(entry + 8, little);
  return 0;
}

function validOrientation(value: number): number {
  return value >= 1 && value <= 8 ? value : 1;
}

/** The single SHORT or LONG values in the first IFD of a TIFF structure (file or EXIF). */
function ifd0Numbers(h: Header): Map<number, number> {
  const little = h.is(0, "II");
  if (!little && !h.is(0, "MM")) h.fail("the byte order mark is missing");
  if (h.u16(2, little) !== 42) h.fail("the TIFF magic number is missing");
  const ifd = h.u32(4, little);
  const count = h.u16(ifd, little);
  const numbers = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    const tag = h.u16(entry, little);
    // Readers disagree on which of two size tags counts (libtiff takes the first, others the
    // last): such a file could be decoded at a size the limits never saw.
    if (numbers.has(tag) && sizeTags.has(tag)) h.fail(`the size tag ${tag} appears twice`);
    numbers.set(tag, tiffNumber(h, entry, little));
  }
  return numbers;
}

/**
 * The single-valued SHORT or LONG tags of the first image of a TIFF file, by tag number; a tag
 * with another type or several values reads as 0.
 *
 * @throws {Unprocessable} when the IFD is truncated
 * @example
 * ```ts
 * const compression = readTiffTags(bytes).get(259) ?? 1;
 * ```
 */
export function readTiffTags(bytes: Uint8Array): Map<number, number> {
  return ifd0Numbers(new Header(bytes, "TIFF"));
}

const TIFF_BITS = 0x102;
const TIFF_COMPRESSION = 0x103;
const TIFF_SAMPLES = 0x115;
const TIFF_ROWS_PER_STRIP = 0x116;
const TIFF_TILE_WIDTH = 0x142;
const TIFF_TILE_LENGTH = 0x143;

/** The first value of a tag's SHORT array (BitsPerSample has one per sample); 0 when absent. */
function tiffFirstShort(h: Header, tag: number): number {
  const little = h.is(0, "II");
  const ifd = h.u32(4, little);
  for (let i = 0; i < h.u16(ifd, little); i++) {
    const entry = ifd + 2 + i * 12;
    if (h.u16(entry, little) !== tag || h.u16(entry + 2, little) !== TIFF_SHORT) continue;
    const count = h.u32(entry + 4, little);
    return h.u16(count <= 2 ? entry + 8 : h.u32(entry + 8, little), little);
  }
  return 0;
}

/** Reads the size, orientation and strip (or tile) tags of the first IFD of a TIFF structure. */
function readIfd0(h: Header): ImageInfo {
  const numbers = ifd0Numbers(h);
  const width = numbers.get(TIFF_WIDTH) ?? 0;
  const height = numbers.get(TIFF_HEIGHT) ?? 0;
  const bits = tiffFirstShort(h, TIFF_BITS) || 1;
  const samples = numbers.get(TIFF_SAMPLES) || 1;
  const tile = { width: numbers.get(TIFF_TILE_WIDTH), height: numbers.get(TIFF_TILE_LENGTH) };
  // A strip's rows default to the whole image; its bytes are what a reader inflates at once.
  // libtiff reads an uncompressed single strip in chunks of about a row ("strip chopping").
  const uncompressed = (numbers.get(TIFF_COMPRESSION) ?? 1) === 1;
  const stripRows = numbers.get(TIFF_ROWS_PER_STRIP) || height;
  const [across, rows] = tile.width && tile.height
    ? [tile.width, tile.height]
    : [width, uncompressed && stripRows >= height ? 1 : Math.min(height, stripRows)];
  return {
    width,
    height,
    orientation: validOrientation(numbers.get(TIFF_ORIENTATION) ?? 1),
    stripBytes: rows * Math.ceil((across * samples * bits) / 8),
  };
}

/** The orientation in an EXIF payload (a TIFF structure); a damaged one must not refuse the image. */
function exifOrientation(exif: Uint8Array): number {
  try {
    return readIfd0(new Header(exif, "EXIF")).orientation;
  } catch (error) {
    if (error instanceof Unprocessable) return 1;
    throw error;
  }
}

const VP8X_ANIMATION = 0x02;

/** Reads the first RIFF chunk of a WebP: a lossy, a lossless or an extended image. */
function probeWebp(h: Header): ImageInfo {
  if (h.is(12, "VP8 ")) {
    if (h.u8(23) !== 0x9d || h.u8(24) !== 0x01 || h.u8(25) !== 0x2a) {
      h.fail("the VP8 start code is missing");
    }
    return { width: h.u16(26, true) & 0x3fff, height: h.u16(28, true) & 0x3fff, orientation: 1 };
  }
  if (h.is(12, "VP8L")) {
    if (h.u8(20) !== 0x2f) h.fail("the VP8L signature is missing");
    const bits = h.u32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, orientation: 1 };
  }
  if (h.is(12, "VP8X")) return probeWebpExtended(h);
  return h.fail("the first chunk is not VP8, VP8L or VP8X");
}

/** Reads the VP8X canvas, then walks the chunks for animation frames and EXIF. */
function probeWebpExtended(h: Header): ImageInfo {
  const { bytes } = h;
  const animated = (h.u8(20) & VP8X_ANIMATION) !== 0;
  const info: ImageInfo = { width: h.u24le(24) + 1, height: h.u24le(27) + 1, orientation: 1 };
  let frames = 0;
  for (let at = 12; at + 8 <= bytes.length;) {
    const size = h.u32(at + 4, true);
    if (h.is(at, "ANMF")) frames++;
    if (h.is(at, "EXIF")) {
      info.orientation = exifOrientation(withoutExifPrefix(bytes.subarray(at + 8, at + 8 + size)));
    }
    at += 8 + size + (size & 1); // chunks are padded to an even size
  }
  if (animated) {
    if (frames === 0) h.fail("the animation has no frames");
    info.frames = frames;
  }
  return info;
}

/** Some writers copy the JPEG "Exif\0\0" prefix into the WebP EXIF chunk as well. */
function withoutExifPrefix(payload: Uint8Array): Uint8Array {
  return hasAscii(payload, 0, "Exif\0\0") ? payload.subarray(6) : payload;
}

/** Reads the DIB header: the old OS/2 one has 16-bit sizes, the others signed 32-bit ones. */
function probeBmp(h: Header): ImageInfo {
  if (h.u32(14, true) === 12) {
    return { width: h.u16(18, true), height: h.u16(20, true), orientation: 1 };
  }
  // A negative height only means the rows are stored top-down.
  return { width: h.i32le(18), height: Math.abs(h.i32le(22)), orientation: 1 };
}

/** One ISO-BMFF box: its type and where its payload lies. */
interface Box {
  type: string;
  start: number;
  end: number;
}

/** The boxes between `start` and `end`, each checked to lie inside its parent. */
function boxes(h: Header, start: number, end: number): Box[] {
  const found: Box[] = [];
  for (let at = start; at < end;) {
    let size = h.u32(at);
    let header = 8;
    if (size === 1) {
      // A 64-bit size: anything past 2^32 is beyond any file we accept anyway.
      if (h.u32(at + 8) !== 0) h.fail(`the box at byte ${at} is larger than the file`);
      size = h.u32(at + 12);
      header = 16;
    } else if (size === 0) {
      size = end - at; // the last box runs to the end
    }
    if (size < header || at + size > end) h.fail(`the box at byte ${at} overruns its container`);
    h.need(at + 8);
    const type = String.fromCharCode(...h.bytes.subarray(at + 4, at + 8));
    found.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return found;
}

function child(h: Header, parent: Box, type: string, offset = 0): Box {
  const box = boxes(h, parent.start + offset, parent.end).find((b) => b.type === type);
  return box ?? h.fail(`the ${parent.type} box has no ${type} box`);
}

/** Full boxes start with a version byte and 24 bits of flags. */
const FULL_BOX = 4;

/** The 1-based property indices ipma associates with `item`. */
function itemProperties(h: Header, ipma: Box, item: number): number[] {
  const version = h.u8(ipma.start);
  const wideIndex = (h.u8(ipma.start + 3) & 1) === 1;
  const count = h.u32(ipma.start + FULL_BOX);
  let at = ipma.start + FULL_BOX + 4;
  for (let i = 0; i < count && at < ipma.end; i++) {
    const id = version < 1 ? h.u16(at) : h.u32(at);
    at += version < 1 ? 2 : 4;
    const associations = h.u8(at++);
    const indices: number[] = [];
    for (let j = 0; j < associations; j++) {
      indices.push(wideIndex ? h.u16(at) & 0x7fff : h.u8(at) & 0x7f);
      at += wideIndex ? 2 : 1;
    }
    if (id === item) return indices;
  }
  return h.fail(`the item ${item} has no properties`);
}

/** The `ispe` among an item's properties, and the refused transforms' presence. */
function itemSize(h: Header, properties: Box[], ipma: Box, item: number): Size | undefined {
  let size: Size | undefined;
  for (const index of itemProperties(h, ipma, item)) {
    const property = properties[index - 1];
    if (!property) continue; // index 0 means "no property"
    if (property.type === "ispe") {
      size = { width: h.u32(property.start + FULL_BOX), height: h.u32(property.start + 8) };
    }
    if (["irot", "imir", "clap"].includes(property.type)) {
      h.fail(`images with a "${property.type}" transform are not supported`);
    }
  }
  return size;
}

/** The id of every item `iinf` lists with the type `av01` (an AV1-coded image). */
function av1Items(h: Header, meta: Box): number[] {
  const iinf = boxes(h, meta.start + FULL_BOX, meta.end).find((box) => box.type === "iinf");
  if (!iinf) return [];
  const wideCount = h.u8(iinf.start) !== 0;
  const items: number[] = [];
  for (const infe of boxes(h, iinf.start + FULL_BOX + (wideCount ? 4 : 2), iinf.end)) {
    const version = h.u8(infe.start);
    if (infe.type !== "infe" || version < 2) continue; // versions 0 and 1 name no type
    const idBytes = version === 2 ? 2 : 4;
    const id = idBytes === 2 ? h.u16(infe.start + FULL_BOX) : h.u32(infe.start + FULL_BOX);
    if (h.is(infe.start + FULL_BOX + idBytes + 2, "av01")) items.push(id);
  }
  return items;
}

/** How many bytes of an item's data are read: its first OBUs, the sequence header among them. */
const ITEM_HEAD_BYTES = 4096;

/**
 * The first bytes of an item's data, through `iloc`: its extents in the file (construction
 * method 0) or in `idat` (1). Items built any other way are refused, as libavif refuses them.
 */
function itemHead(h: Header, meta: Box, item: number): Uint8Array {
  const siblings = boxes(h, meta.start + FULL_BOX, meta.end);
  const iloc = siblings.find((box) => box.type === "iloc") ?? h.fail("the iloc box is missing");
  const version = h.u8(iloc.start);
  let at = iloc.start + FULL_BOX;
  const sizes = h.u16(at);
  const [offsetSize, lengthSize, baseSize] = [sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15];
  const indexSize = version >= 1 ? sizes & 15 : 0;
  at += 2;
  const uint = (bytes: number): number => {
    const value = bytes === 0
      ? 0
      : bytes === 2
      ? h.u16(at)
      : bytes === 4
      ? h.u32(at)
      : bytes === 8
      ? h.u32(at) * 2 ** 32 + h.u32(at + 4)
      : h.fail(`the iloc box has a field of ${bytes} bytes`);
    at += bytes;
    return value;
  };
  const count = uint(version < 2 ? 2 : 4);
  for (let i = 0; i < count; i++) {
    const id = uint(version < 2 ? 2 : 4);
    const method = version >= 1 ? uint(2) & 15 : 0;
    uint(2); // data_reference_index
    const base = uint(baseSize);
    const extents = uint(2);
    const parts: Uint8Array[] = [];
    for (let e = 0; e < extents; e++) {
      uint(indexSize);
      const offset = base + uint(offsetSize);
      const length = uint(lengthSize);
      if (id !== item) continue;
      if (method > 1) h.fail(`the item ${item} is built with iloc method ${method}`);
      const idat = method === 1
        ? siblings.find((box) => box.type === "idat") ?? h.fail("the idat box is missing")
        : { start: 0, end: h.bytes.length };
      const start = idat.start + offset;
      const end = length === 0 ? idat.end : start + length;
      if (end > idat.end) h.fail(`the data of item ${item} lies past the end of the file`);
      parts.push(h.bytes.subarray(start, Math.min(end, start + ITEM_HEAD_BYTES)));
    }
    if (id === item) {
      return concatBytes(parts).subarray(0, ITEM_HEAD_BYTES);
    }
  }
  return h.fail(`the item ${item} has no data`);
}

/**
 * Holds every AV1 image item to its own `ispe` and to the primary image's size: an AV1
 * decoder allocates the frame its sequence header allows, which a forged `ispe` would hide
 * from the limits (1.7 kB claiming 64x64 made libavif decode 12000x12000 pixels).
 */
function checkAv1Items(h: Header, meta: Box, ipma: Box, properties: Box[], primary: Size) {
  for (const item of av1Items(h, meta)) {
    const size = itemSize(h, properties, ipma, item) ??
      h.fail(`the item ${item} has no ispe (size) property`);
    let coded: Size | undefined;
    try {
      coded = av1MaxFrameSize(itemHead(h, meta, item));
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      h.fail(`the AV1 data of item ${item} is cut short: ${error.message}`);
    }
    if (!coded) h.fail(`the AV1 data of item ${item} has no sequence header`);
    if (coded.width > size.width || coded.height > size.height) {
      h.fail(
        `the AV1 data of item ${item} codes up to ${coded.width}x${coded.height} pixels where its ispe says ${size.width}x${size.height}`,
      );
    }
    if (size.width > primary.width || size.height > primary.height) {
      h.fail(
        `the item ${item} is ${size.width}x${size.height} pixels, larger than the ${primary.width}x${primary.height} image`,
      );
    }
  }
}

/**
 * Reads the primary image's `ispe` (its size) through `pitm` and `ipma`. Image sequences
 * (animated AVIF, with a `moov` track) are refused: decoders disagree on which frame they
 * read. So are images with a rotation, mirror or clean-aperture crop (`irot`, `imir`, `clap`):
 * libheif (ImageMagick, libvips) applies them and libavif (the WebAssembly decoder) does not,
 * so the backends would give different images.
 */
function probeAvif(h: Header): ImageInfo {
  const top = boxes(h, 0, h.bytes.length);
  if (top.some((box) => box.type === "moov")) {
    h.fail(
      "animated AVIF (an image sequence) is not supported: save its first frame as a still image",
    );
  }
  const meta = top.find((box) => box.type === "meta") ?? h.fail("the meta box is missing");
  const pitm = child(h, meta, "pitm", FULL_BOX);
  const item = h.u8(pitm.start) === 0 ? h.u16(pitm.start + FULL_BOX) : h.u32(pitm.start + FULL_BOX);
  const iprp = child(h, meta, "iprp", FULL_BOX);
  const ipco = child(h, iprp, "ipco");
  const properties = boxes(h, ipco.start, ipco.end);
  const ipma = child(h, iprp, "ipma");
  const size = itemSize(h, properties, ipma, item) ??
    h.fail("the primary image has no ispe (size) property");
  checkAv1Items(h, meta, ipma, properties, size);
  return { ...size, orientation: 1 };
}
