import { jpegFullChroma, type OutputFormat, PNG_DEFLATE_LEVEL } from "../image/formats.ts";
import { wasmEncoders } from "../image/wasm_encoders.ts";
import type { VipsCanvas } from "./canvas.ts";
import type { Build, Pixels } from "./engine.ts";

/** The most colours a PNG palette holds. */
const MAX_PALETTE = 256;

/**
 * Opaque gray images with more levels than this are smaller as 8-bit gray than as a palette
 * (the pure backend's rule).
 */
const GRAY_OVER_PALETTE = 16;

/**
 * Encodes the canvas as `format` (never `auto` here), without metadata: JPEG with alpha
 * flattened onto the format's background (white by default), AVIF by the WebAssembly encoder, PNG in the smallest exact colour type, WebP lossy or lossless, GIF
 * with every frame of an animation, its delays and loop count.
 */
export async function encodeCanvas(
  canvas: VipsCanvas,
  format: OutputFormat,
): Promise<Uint8Array<ArrayBuffer>> {
  const { quality } = format;
  switch (format.type) {
    case "jpeg":
      return await canvas.encode(
        (pipeline) =>
          pipeline.flatten({ background: `#${format.background ?? "ffffff"}` }).jpeg({
            quality,
            progressive: format.progressive === true,
            // Explicit, as on every backend.
            chromaSubsampling: jpegFullChroma(quality) ? "4:4:4" : "4:2:0",
          }),
        false,
        true,
      );
    case "webp":
      return await canvas.encode(
        (pipeline) => pipeline.webp(format.lossless ? { lossless: true } : { quality }),
        false,
      );
    case "gif":
      return await canvas.encode(gifEncoder(canvas), true);
    case "png":
      return await canvas.encode(pngEncoder(await firstFrame(canvas)), false);
    case "avif":
    case "jxl":
      // The same WebAssembly encoders as the other backends, so the bytes agree.
      return await wasmEncoders.get(format.type)!(await canvas.sample(Infinity), quality);
    default:
      throw new Error(`Cannot encode ${format.type} on the vips backend`);
  }
}

async function firstFrame(canvas: VipsCanvas): Promise<Pixels> {
  const pixels = await canvas.pixels();
  return { ...pixels, frames: 1 };
}

function gifEncoder(canvas: VipsCanvas): Build {
  if (canvas.frameCount === 1) return (pipeline) => pipeline.gif();
  const { delays, loop } = canvas.animation;
  // A GIF delay reaches 655350 ms (16 bits of centiseconds); sharp refuses any over 65535 ms.
  const delay = delays?.map((ms) => Math.min(ms, SHARP_MAX_DELAY_MS));
  return (pipeline) => pipeline.gif({ delay, loop: loop ?? 0 });
}

/** The longest frame delay sharp's `gif()` takes. */
const SHARP_MAX_DELAY_MS = 65_535;

/**
 * PNG as the pure backend writes it: a palette for up to 256 colours (exact: libimagequant at
 * its slowest setting keeps every colour when they fit), 8-bit gray for opaque gray images,
 * else RGB when opaque or RGBA.
 */
function pngEncoder(pixels: Pixels): Build {
  const { colours, opaque, gray } = survey(pixels);
  // Without adaptive filters (sharp's default) the 512x340 photo took 465 kB, not 224 kB.
  const png = { compressionLevel: PNG_DEFLATE_LEVEL, adaptiveFiltering: true };
  if (colours !== undefined && !(opaque && gray && colours > GRAY_OVER_PALETTE)) {
    return (pipeline) =>
      pipeline.png({ ...png, palette: true, colours: Math.max(2, colours), dither: 0, effort: 10 });
  }
  if (opaque && gray) return (pipeline) => pipeline.toColourspace("b-w").png(png);
  if (opaque && pixels.channels === 4) return (pipeline) => pipeline.removeAlpha().png(png);
  return (pipeline) => pipeline.png(png);
}

interface Survey {
  /** How many distinct colours (with alpha), or undefined beyond 256. */
  colours?: number;
  opaque: boolean;
  /** Every pixel has R = G = B. */
  gray: boolean;
}

/** Counts the colours of the first frame, up to 257, and whether it is opaque and gray. */
function survey(pixels: Pixels): Survey {
  const { data, channels } = pixels;
  const end = pixels.width * pixels.height * channels;
  const seen = new Set<number>();
  let opaque = true;
  let gray = true;
  for (let i = 0; i < end; i += channels) {
    const r = data[i], g = data[i + 1], b = data[i + 2];
    const a = channels === 4 ? data[i + 3] : 255;
    opaque &&= a === 255;
    gray &&= r === g && g === b;
    if (seen.size <= MAX_PALETTE) seen.add(((r << 24) | (g << 16) | (b << 8) | a) >>> 0);
    // Past the palette's size nothing is left to learn once gray is ruled out and opacity is
    // too (without an alpha channel, it is known from the start).
    else if (!gray && (!opaque || channels === 3)) break;
  }
  return { colours: seen.size <= MAX_PALETTE ? seen.size : undefined, opaque, gray };
}
