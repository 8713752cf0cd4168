/**
 * The parts of a PNG that no pixel needs and the magick libraries' readers still inflate,
 * found before they read them. Both have libpng inflate every byte of the IDAT stream once the
 * rows are read, inside one call nothing stops: a 10 MB file of a 1x1 image whose IDAT inflated
 * to 10 GiB kept a core busy for 24 s on ImageMagick, 13 s past its 503 (GraphicsMagick
 * likewise). ImageMagick also inflates every text chunk whole, whatever `png:chunk-malloc-max`
 * says: a 1 MB zTXt of zeros cost 1 GiB and 5 s. libspng (vips) stops at the rows it needs
 * and pure's decoder refuses the extra data.
 *
 * @module
 */

import { createInflate } from "node:zlib";
import { concatBytes } from "./bytes.ts";

const CHANNELS = new Map([[0, 1], [2, 3], [3, 1], [4, 2], [6, 4]]);

/** Adam7: each pass's first column and row, and its steps across and down. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** The bytes of filtered rows (each with its filter byte) an image of this header inflates to. */
function rawBytes(width: number, height: number, bitsPerPixel: number, interlaced: boolean) {
  const rows = (
    w: number,
    h: number,
  ) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0);
  if (!interlaced) return rows(width, height);
  return ADAM7.reduce(
    (sum, [x, y, dx, dy]) => sum + rows(Math.ceil((width - x) / dx), Math.ceil((height - y) / dy)),
    0,
  );
}

/**
 * True when the IDAT chunks of `png` inflate to more bytes than its IHDR's size, depth and
 * interlacing need; false otherwise, and for data too damaged to say (the decoder then
 * refuses it). The inflated bytes are counted, not kept, and counting stops at the first byte
 * past the need.
 */
export async function pngDataOverflows(png: Uint8Array): Promise<boolean> {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (png.length < 33) return false;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const channels = CHANNELS.get(png[25]);
  if (!channels) return false;
  const need = rawBytes(width, height, channels * png[24], png[28] === 1);
  const idat: Uint8Array[] = [];
  for (const chunk of chunks(png)) {
    if (chunk.type === "IDAT") idat.push(chunk.data);
    if (chunk.type === "IEND") break;
  }
  return await inflatesPast(idat, need);
}

/**
 * The chunks of `png` after its signature, in order: type, data, and where the whole chunk
 * (length, type, data and CRC) starts and ends, cut at the end of the file.
 */
function* chunks(png: Uint8Array) {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let at = 8; at + 8 <= png.length;) {
    const length = view.getUint32(at);
    const end = Math.min(png.length, at + 12 + length);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    yield { type, data: png.subarray(at + 8, Math.min(end, at + 8 + length)), start: at, end };
    at = end;
  }
}

const TEXT_CHUNKS = new Set(["tEXt", "zTXt", "iTXt"]);

/**
 * `png` without its text chunks (tEXt, zTXt, iTXt), which no output carries; the same bytes
 * when it has none.
 */
export function withoutTextChunks(png: Uint8Array): Uint8Array {
  const kept: Uint8Array[] = [png.subarray(0, 8)];
  let dropped = false;
  let tail = 8;
  for (const { type, start, end } of chunks(png)) {
    if (TEXT_CHUNKS.has(type)) dropped = true;
    else kept.push(png.subarray(start, end));
    tail = end;
  }
  if (!dropped) return png;
  kept.push(png.subarray(tail));
  return concatBytes(kept);
}

/** How much input is handed to zlib at a time: at most ~1032 times as much comes out. */
const SLICE = 16 * 1024;

/** Whether the zlib stream in `parts` inflates to more than `need` bytes; stops as soon as it does. */
function inflatesPast(parts: Uint8Array[], need: number): Promise<boolean> {
  const inflate = createInflate({ chunkSize: 64 * 1024 });
  return new Promise((resolve) => {
    let inflated = 0;
    let done = false;
    const finish = (overflows: boolean) => {
      if (done) return;
      done = true;
      inflate.destroy();
      resolve(overflows);
    };
    inflate.on("data", (chunk: Uint8Array) => {
      inflated += chunk.length;
      if (inflated > need) finish(true);
    });
    // Damaged or cut short: the decoder decides.
    inflate.on("error", () => finish(false));
    inflate.on("end", () => finish(false));
    const slices = parts.flatMap((part) =>
      Array.from(
        { length: Math.ceil(part.length / SLICE) },
        (_, i) => part.subarray(i * SLICE, (i + 1) * SLICE),
      )
    );
    const feed = (i: number): void => {
      if (done) return;
      if (i === slices.length) return void inflate.end();
      inflate.write(slices[i], () => feed(i + 1));
    };
    feed(0);
  });
}
