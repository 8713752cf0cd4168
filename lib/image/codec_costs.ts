/**
 * What one codec call costs per pixel, by backend: the calls nothing can stop once started
 * (pure's WebAssembly decoders and encoders and its deflate, AVIF and WebP on every backend),
 * so planning must bound them before they start. Measured by
 * `deno task bench` (bench/codec_costs.ts prints each next to the figure here) on a 2-core
 * machine shared with other work, and rounded up by a half or more: CPU nanoseconds per pixel,
 * and the peak bytes per pixel the call adds (its working set and its result, not the image
 * it reads). Calls the libraries stop by themselves (their progress monitors, which see the
 * job's cancellation, or sharp's timeout) are not listed (a deadline stops them), unless their
 * memory is more than the image they make: then at 0 ns, for their bytes only.
 *
 * @module
 */
import type { EncodedType, SourceFormat } from "./formats.ts";

export interface CodecCost {
  nsPerPixel: number;
  bytesPerPixel: number;
  /**
   * The bytes per pixel of each frame after the first, for a decoder whose working set is
   * spent once per call rather than per frame; `bytesPerPixel` when absent.
   */
  nextFrameBytesPerPixel?: number;
}

type Table = Partial<Record<string, CodecCost>>;

/** A call's figures: nanoseconds and bytes per pixel. */
const cost = (
  nsPerPixel: number,
  bytesPerPixel: number,
  nextFrameBytesPerPixel?: number,
): CodecCost => ({ nsPerPixel, bytesPerPixel, nextFrameBytesPerPixel });

/**
 * Encoders that are the same WebAssembly build on every backend. JPEG XL at effort 3
 * (lib/image/jxl.ts): 1.2–1.4 µs a pixel on noise, its worst case, and ~340 MB of WebAssembly
 * memory at 2^22 pixels, measured by bench/formats.ts.
 */
const wasmEncoders: Table = {
  "encode jxl": cost(2000, 85),
};

/**
 * GIF through gifenc (lib/image/gif_encode.ts), plain JavaScript that reads no cancellation:
 * 277 ns a pixel on pure, with a working set of one frame; 4500x4500 ran ~0.6 s past its 503.
 */
const gifenc = cost(420, 1);

/**
 * A GIF read by a magick library, its monitor watching: one frame is the 8 B a pixel it holds;
 * every frame of an animation is held twice, as read and coalesced (lib/magick/decode.ts):
 * 40 frames of 1000x1000 grew ImageMagick by 18–19 B a pixel, GraphicsMagick by 18–21.
 */
const magickAnimation = cost(0, 12, 24);

/*
 * `encode jpeg alpha` on the magick backends: a JPEG of an image with transparency is written
 * from a flattened copy (8 B a pixel) besides the image. Measured as below: 23.0–24.8 B a pixel
 * for the whole job, 11.3 for an opaque source; the largest `s,NxN/jpeg` the defaults allowed
 * from a transparent PNG (7071x7071) grew ImageMagick by 908 MiB and GraphicsMagick by 964
 * where 381 were planned.
 */
const magickJpegAlpha = cost(0, 24);

/*
 * `encode webp alpha`: a WebP of an image with transparency. libwebp compresses the alpha plane
 * losslessly (VP8L) besides the lossy colour, at several times the opaque cost. Measured
 * 2026-12-07 with whole `none/webp,80` requests of 2048x2048 PNGs (photo-like colour; alpha a
 * ramp or noise) on a server with one worker: CPU of the job (its PNG decode included) and its
 * peak RSS growth less the image held: pure 341–632 ns and 37–54 B a pixel (opaque: 186 ns),
 * ImageMagick 212–334 ns and 23–30 B, GraphicsMagick 234–386 ns and 33–38 B, vips 350–441 ns
 * and 26–34 B (opaque: 83 ns and 2 B). Before these entries a transparent WebP was planned at
 * the opaque figures: pure's largest allowed one (6688x6688) grew the server by 1019 MiB where
 * 512 were planned.
 */

/**
 * `decode FORMAT` and `encode FORMAT` entries of one backend. vips decodes lazily: its whole
 * pipeline, the source's decode included, runs in its encode call.
 */
const costs: Readonly<Record<string, Table>> = {
  pure: {
    ...wasmEncoders,
    "encode gif": gifenc,
    // libjpeg-turbo: 17 ns and 8 B a pixel on a baseline JPEG; a progressive one also holds
    // every coefficient (up to 6 B a pixel).
    "decode jpeg": cost(50, 20),
    "decode png": cost(40, 12),
    "decode webp": cost(50, 12),
    // ImageScript's WebAssembly TIFF decoder (2048x2048 plasma): 24–114 ns and 19–23 B a pixel
    // for 8-bit RGB, raw or LZW; 296 ns and 38 B for 16-bit RGBA LZW, which the header does not
    // tell apart here.
    "decode tiff": cost(450, 57),
    // ImageScript's WebAssembly GIF decoder, then each frame composited on the screen: 48 ns and
    // 18–20 B a pixel for one frame, ~8 B for each of 20 or 100 frames (500x500).
    "decode gif": cost(75, 30, 12),
    // libavif (dav1d) in WebAssembly, here and on the magick backends: 150 ns and 16–19 B a
    // pixel on a first call, whose memory the WebAssembly instance keeps.
    "decode avif": cost(230, 30),
    // libjpeg-turbo: 26 ns and 8 B a pixel at 4:2:0; 4:4:4 (quality 90 up) doubles its
    // output buffer, sized to the worst case (lib/pure/jpeg.ts): 14 B.
    "encode jpeg": cost(60, 16),
    "encode png": cost(220, 8),
    "encode webp": cost(270, 8),
    "encode webp alpha": cost(950, 80),
    "encode avif": cost(450, 30),
  },
  imagemagick: {
    ...wasmEncoders,
    "decode gif": magickAnimation,
    // gifenc after the frames are exported from the library: 462 ns and 4.6 B a pixel.
    "encode gif": cost(700, 7),
    // Each frame of an animation after the first: 7.7 B a pixel measured.
    "decode webp": cost(25, 18, 12),
    // libavif's WebAssembly decode, then the library's read of its pixels: 130–210 ns, 31 B.
    "decode avif": cost(300, 48),
    "encode webp": cost(90, 10),
    "encode webp alpha": cost(500, 45),
    "encode jpeg alpha": magickJpegAlpha,
    "encode avif": cost(450, 34),
  },
  graphicsmagick: {
    ...wasmEncoders,
    "decode gif": magickAnimation,
    // gifenc after the frames are exported from the library: 276 ns and 4.9 B a pixel.
    "encode gif": cost(420, 7),
    "decode webp": cost(20, 16),
    "decode avif": cost(300, 48),
    "encode webp": cost(100, 26),
    "encode webp alpha": cost(580, 57),
    "encode jpeg alpha": magickJpegAlpha,
    "encode avif": cost(450, 36),
    // Its PNG writer never consults the monitor: 238 ns and 11.3 B a pixel, all of it past a
    // 503 once started (3.4 s for 4500x4500).
    "encode png": cost(360, 17),
  },
  vips: {
    ...wasmEncoders,
    // libheif decodes an AVIF whole, not in strips: 32–36 ns and 15–16 B a pixel.
    "decode avif": cost(55, 24),
    "encode webp": cost(100, 8),
    "encode webp alpha": cost(660, 51),
    // libvips's GIF writer (cgif, with libimagequant's palette), which sharp's timeout stops:
    // 30–40 B a pixel for whole `none/gif` jobs of 2048x2048 PNGs, opaque or not; the largest
    // `s,NxN/gif` the defaults allowed (7071x7071) grew the server by 872 MiB, 191 planned.
    "encode gif": cost(0, 54),
    "encode avif": cost(480, 40),
  },
};

/**
 * The bytes per pixel of an image a backend holds: 8-bit RGBA on pure and vips, 16-bit
 * samples in the magick libraries' Q16 pixel caches.
 */
export function heldBytesPerPixel(backend: string): number {
  return backend === "imagemagick" || backend === "graphicsmagick" ? 8 : 4;
}

/** Whether the backend holds a resize's image between its two one-axis passes whole. */
export function holdsResizePass(backend: string): boolean {
  return backend === "imagemagick" || backend === "graphicsmagick";
}

/**
 * How many copies of a TIFF's largest strip (or tile) the backend's reader holds besides the
 * image, at their decoded size: ImageMagick's reader took 421 MiB more for a 7000x7000 RGB TIFF
 * stored as one Deflate strip (140 MiB decoded) than for one stored in many, 3 copies: planned
 * at 4.5. The other readers measured no such cost (GraphicsMagick, libvips) or decode TIFF
 * whole at a cost planned per pixel (pure).
 */
export function heldStripCopies(backend: string): number {
  return backend === "imagemagick" ? 4.5 : 0;
}

/**
 * Whether the backend's decoder reads every frame of `format` even when one is kept:
 * ImageMagick's WebP reader decodes a whole animation whatever subimage is asked for (30
 * frames of 3000x3000 grew it by 2092 MiB for a still result, where one frame was planned).
 */
export function readsEveryFrame(backend: string, format: SourceFormat | undefined): boolean {
  return backend === "imagemagick" && format === "webp";
}

/**
 * The planned cost of one `kind` call on `format` with `backend`; undefined for a call the
 * backend can stop by itself (its progress monitor or its timeout sees the deadline). `alpha`:
 * the image may hold transparency, which costs an encoder more where the table says so.
 */
export function codecCost(
  backend: string,
  kind: "decode" | "encode",
  format: SourceFormat | EncodedType,
  alpha = false,
): CodecCost | undefined {
  const table = costs[backend];
  return (alpha ? table?.[`${kind} ${format} alpha`] : undefined) ?? table?.[`${kind} ${format}`];
}
