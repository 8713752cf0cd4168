// Inputs an attacker would send, made in the test so each one's shape is known exactly: JPEGs
// with thousands of scans, GIFs with a thousand frames, multi-page TIFFs, TIFF headers that
// contradict themselves, gzip bombs. ImageMagick's `convert` makes the well-formed parts.
import { join } from "node:path";
import { crc32, deflateSync, gzipSync } from "node:zlib";

/** Runs `convert` with `args`, the last one an output name in a temp dir; answers its bytes. */
export async function convert(args: string[], output: string): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-hostile-" });
  try {
    const file = join(dir, output);
    const { success, stderr } = await new Deno.Command("convert", {
      args: [...args, file],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) throw new Error(`convert ${output}: ${new TextDecoder().decode(stderr)}`);
    return await Deno.readFile(file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The JPEG segments from SOI to EOI: [marker, start offset, end offset] with the scan data. */
function jpegSegments(bytes: Uint8Array): [number, number, number][] {
  const segments: [number, number, number][] = [];
  let at = 2;
  while (at < bytes.length) {
    const marker = bytes[at + 1];
    if (marker === 0xd9) break;
    let end = at + 2 + (bytes[at + 2] << 8 | bytes[at + 3]);
    if (marker === 0xda) {
      // Entropy-coded data runs to the next marker that is not a stuffed byte or a restart.
      while (!(bytes[end] === 0xff && bytes[end + 1] !== 0 && !isRestart(bytes[end + 1]))) end++;
    }
    segments.push([marker, at, end]);
    at = end;
  }
  return segments;
}

const isRestart = (marker: number) => marker >= 0xd0 && marker <= 0xd7;

/**
 * A progressive grayscale JPEG of `size`x`size` whose first AC scan is repeated until the file
 * has `scans` scans. Every scan makes a decoder walk all the image's blocks once more, which is
 * why libjpeg-based decoders refuse more than 100 scans. Flat pixels keep each scan a few bytes.
 */
export async function manyScanJpeg(size: number, scans: number): Promise<Uint8Array> {
  const plain = await convert(
    ["-size", `${size}x${size}`, "xc:gray50", "-colorspace", "Gray", "-interlace", "JPEG"],
    "progressive.jpg",
  );
  const segments = jpegSegments(plain);
  const sos = segments.filter(([marker]) => marker === 0xda);
  // An AC scan (spectral start > 0) of a flat image is one end-of-band run for the whole image.
  const ac = sos.find(([, start]) => plain[start + 4 + 2 * plain[start + 4] + 1] > 0);
  if (!ac || sos.length >= scans) throw new Error("convert wrote no progressive AC scan");
  const repeated = plain.subarray(ac[1], ac[2]);
  const head = plain.subarray(0, ac[2]);
  const tail = plain.subarray(ac[2]);
  const extra = scans - sos.length;
  const out = new Uint8Array(head.length + repeated.length * extra + tail.length);
  out.set(head);
  for (let i = 0; i < extra; i++) out.set(repeated, head.length + i * repeated.length);
  out.set(tail, head.length + repeated.length * extra);
  return out;
}

/**
 * A valid progressive grayscale JPEG of `size`x`size` with exactly `scans` scans (4 to 128): the
 * two DC scans, then the AC coefficients split into single-coefficient bands, each sent in a
 * first scan and a refinement scan (successive approximation), the rest in one last band. A
 * strict decoder accepts it, so it shows exactly where a scan cap sits. The pixels are flat,
 * so every AC scan's data is the same end-of-band run, taken from a file `convert` wrote.
 */
export async function progressiveJpeg(size: number, scans: number): Promise<Uint8Array> {
  const plain = await convert(
    ["-size", `${size}x${size}`, "xc:gray50", "-colorspace", "Gray", "-interlace", "JPEG"],
    "progressive.jpg",
  );
  // Each scan with the segments (tables) written since the previous one.
  const groups: { head: Uint8Array; sos: number; end: number; from: number }[] = [];
  let from = 0;
  for (const [marker, start, end] of jpegSegments(plain)) {
    if (marker !== 0xda) continue;
    groups.push({ head: plain.subarray(from, start), sos: start, end, from });
    from = end;
  }
  const field = (sos: number, offset: number) => plain[sos + 7 + offset]; // Ss, Se, Ah|Al
  const ac = groups.find((g) => field(g.sos, 0) > 0 && field(g.sos, 2) >> 4 === 0);
  const dcRefine = groups.find((g) => field(g.sos, 0) === 0 && field(g.sos, 2) >> 4 > 0);
  if (!ac || !dcRefine || plain[groups[0].sos + 4] !== 1) {
    throw new Error("convert wrote no single-component progressive JPEG");
  }
  const component = plain[ac.sos + 5];
  const tables = plain[ac.sos + 6];
  const data = plain.subarray(ac.sos + 10, ac.end);
  const scan = (ss: number, se: number, ah: number, al: number) => [
    ...[0xff, 0xda, 0, 8, 1, component, tables, ss, se, (ah << 4) | al],
    ...data,
  ];
  const bands: [number, number][] = [];
  const acScans = scans - 2;
  const last = acScans % 2 ? 62 : 63; // an odd count sends coefficient 63 once, unrefined
  const pairs = Math.floor(acScans / 2);
  if (pairs < 1 || pairs > last) throw new Error(`cannot write ${scans} valid scans`);
  for (let k = 1; k < pairs; k++) bands.push([k, k]);
  bands.push([pairs, last]);
  const out = [...plain.subarray(0, groups[0].end), ...ac.head];
  for (const [ss, se] of bands) out.push(...scan(ss, se, 0, 1));
  for (const [ss, se] of bands) out.push(...scan(ss, se, 1, 0));
  if (last === 62) out.push(...scan(63, 63, 0, 0));
  out.push(...plain.subarray(dcRefine.from, dcRefine.end), 0xff, 0xd9);
  return new Uint8Array(out);
}

/** Counts the scans (SOS markers) of a JPEG. */
export function countScans(bytes: Uint8Array): number {
  return jpegSegments(bytes).filter(([marker]) => marker === 0xda).length;
}

/** An animated GIF of `frames` frames of `width`x`height`, each a different flat colour. */
export function animatedGif(width: number, height: number, frames: number): Uint8Array {
  const parts: number[] = [];
  const u16 = (n: number) => parts.push(n & 0xff, n >> 8);
  parts.push(...new TextEncoder().encode("GIF89a"));
  u16(width);
  u16(height);
  parts.push(0xf7, 0, 0); // a global table of 256 colours
  for (let i = 0; i < 256; i++) parts.push(i, 255 - i, (i * 7) & 0xff);
  parts.push(0x21, 0xff, 11, ...new TextEncoder().encode("NETSCAPE2.0"), 3, 1, 0, 0, 0);
  for (let frame = 0; frame < frames; frame++) {
    parts.push(0x21, 0xf9, 4, 0, 2, 0, 0, 0); // 20 ms delay
    parts.push(0x2c);
    u16(0);
    u16(0);
    u16(width);
    u16(height);
    parts.push(0);
    parts.push(8, ...lzwFlat(width * height, frame & 0xff), 0);
  }
  parts.push(0x3b);
  return new Uint8Array(parts);
}

/**
 * GIF LZW data (as sub-blocks) for `count` pixels of one colour index, with 8-bit roots. It
 * sends a clear code before the dictionary would grow past 9-bit codes, so every code is 9
 * bits wide and each code after the first repeats a run one pixel longer than the last.
 */
function lzwFlat(count: number, index: number): number[] {
  const CLEAR = 256;
  const END = 257;
  const codes: number[] = [];
  let remaining = count;
  while (remaining > 0) {
    codes.push(CLEAR, index);
    remaining--;
    // Codes 258.. stand for runs of 2, 3, …; stop before code 511 would widen the codes.
    for (let code = 258, run = 2; remaining > 0 && code < 510; code++, run++) {
      if (run > remaining) {
        // The rest is shorter than a run already in the dictionary: one code for it.
        codes.push(remaining === 1 ? index : 258 + remaining - 2);
        remaining = 0;
        break;
      }
      codes.push(code);
      remaining -= run;
    }
  }
  codes.push(END);
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const code of codes) {
    buffer |= code << bits;
    bits += 9;
    while (bits >= 8) {
      bytes.push(buffer & 0xff);
      buffer >>>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) bytes.push(buffer & 0xff);
  const blocks: number[] = [];
  for (let at = 0; at < bytes.length; at += 255) {
    const chunk = bytes.slice(at, at + 255);
    blocks.push(chunk.length, ...chunk);
  }
  return blocks;
}

/**
 * An animated WebP of `frames` frames of `width`x`height`, each a flat colour far from the
 * last (the writer merges frames that look alike).
 */
export function animatedWebp(width: number, height: number, frames: number): Promise<Uint8Array> {
  const colours = Array.from(
    { length: frames },
    (_, i) => `xc:rgb(${(i * 97) % 256},${(i * 59) % 256},${(i * 163) % 256})`,
  );
  return convert(["-size", `${width}x${height}`, ...colours, "-loop", "0"], "anim.webp");
}

/**
 * A TIFF whose first page is `first` pixels square and whose next `more` pages are `big`
 * pixels square; a decoder that reads every page does far more work than the header promised.
 */
export function multiPageTiff(first: number, big: number, more: number): Promise<Uint8Array> {
  const pages = [`xc:red[${first}x${first}!]`];
  for (let i = 0; i < more; i++) pages.push(`xc:blue[${big}x${big}!]`);
  return convert([...pages, "-compress", "LZW", "-depth", "8"], "pages.tif");
}

/**
 * An uncompressed 8-bit gray little-endian TIFF that gives ImageWidth twice: first `widths[0]`,
 * then `widths[1]`, with `height` rows of strip data sized for the smaller width. A probe and a
 * decoder that pick different entries disagree about the size by the ratio of the two.
 */
export function duplicatedWidthTiff(widths: [number, number], height: number): Uint8Array {
  const pixels = Math.min(...widths) * height;
  const entries: [number, number, number][] = [
    [256, 4, widths[0]], // ImageWidth, LONG
    [256, 4, widths[1]], // ImageWidth again
    [257, 4, height], // ImageLength
    [258, 3, 8], // BitsPerSample
    [259, 3, 1], // Compression: none
    [262, 3, 1], // PhotometricInterpretation: BlackIsZero
    [273, 4, 0], // StripOffsets, filled in below
    [277, 3, 1], // SamplesPerPixel
    [278, 4, height], // RowsPerStrip
    [279, 4, pixels], // StripByteCounts
  ];
  const ifdSize = 2 + entries.length * 12 + 4;
  const dataAt = 8 + ifdSize;
  const out = new Uint8Array(dataAt + pixels);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, 8, true);
  view.setUint16(8, entries.length, true);
  entries.forEach(([tag, type, value], i) => {
    const at = 10 + i * 12;
    view.setUint16(at, tag, true);
    view.setUint16(at + 2, type, true);
    view.setUint32(at + 4, 1, true);
    const stored = tag === 273 ? dataAt : value;
    if (type === 3) view.setUint16(at + 8, stored, true);
    else view.setUint32(at + 8, stored, true);
  });
  view.setUint32(10 + entries.length * 12, 0, true);
  for (let i = 0; i < pixels; i++) out[dataAt + i] = (i * 37) & 0xff;
  return out;
}

/** `size` zero bytes, gzipped: a body of ~`size` / 1000 bytes that inflates to `size`. */
export function gzipBomb(size: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(gzipSync(new Uint8Array(size), { level: 9 }));
}

/** One PNG chunk: length, type, data, CRC. */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * A 1x1 RGBA PNG whose image data, or a zTXt chunk before it, is a zlib stream of `inflated`
 * zero bytes (~1/1000 of that in the file): the one pixel needs 5 bytes.
 */
export function pngZlibBomb(where: "idat" | "ztxt", inflated: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 1);
  new DataView(ihdr.buffer).setUint32(4, 1);
  ihdr.set([8, 6], 8); // 8 bits, RGBA
  const bomb = deflateSync(new Uint8Array(inflated), { level: 9 });
  const pixel = deflateSync(new Uint8Array([0, 255, 0, 0, 255]));
  const chunks = where === "idat" ? [pngChunk("IHDR", ihdr), pngChunk("IDAT", bomb)] : [
    pngChunk("IHDR", ihdr),
    pngChunk("zTXt", new Uint8Array([...new TextEncoder().encode("Comment"), 0, 0, ...bomb])),
    pngChunk("IDAT", pixel),
  ];
  chunks.push(pngChunk("IEND", new Uint8Array(0)));
  const out = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, ...chunks.flatMap((c) => [...c])]);
  return out;
}

/** One entry of a TIFF's IFD: tag, type (3 SHORT, 4 LONG), count, and value or offset. */
export type TiffEntry = [tag: number, type: number, count: number, value: number];

/** The bytes a little-endian TIFF's header and one IFD of `entries` take, from byte 0. */
export const tiffHeaderBytes = (entries: number) => 8 + 2 + entries * 12 + 4;

/** Writes a little-endian TIFF header at byte 0 and one IFD of `entries` at byte 8. */
export function writeTiffHeader(out: Uint8Array, entries: TiffEntry[]): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, 8, true);
  view.setUint16(8, entries.length, true);
  entries.forEach(([tag, type, count, value], i) => {
    const entry = 10 + i * 12;
    view.setUint16(entry, tag, true);
    view.setUint16(entry + 2, type, true);
    view.setUint32(entry + 4, count, true);
    view.setUint32(entry + 8, value, true);
  });
}
