import type { Canvas } from "../image/backend.ts";
import type { Size } from "../image/bitmap.ts";
import type { SourceFormat } from "../image/formats.ts";
import { pixelFacts, THUMBHASH_MAX_SIDE } from "../image/placeholders.ts";
import type { ImageInfo } from "../image/probe.ts";

/** BlurHash's components across and down when the config names none: its own default. */
export const DEFAULT_BLURHASH_COMPONENTS = { x: 4, y: 3 };

/** The answer of the `info` format, field for field. */
export interface InfoAnswer {
  width: number;
  height: number;
  source: {
    format: SourceFormat;
    width: number;
    height: number;
    frames: number;
    bytes: number;
    orientation: number;
  };
  alpha: boolean;
  average: string;
  dominant: string;
  thumbhash: string;
  blurhash: string;
}

/**
 * The `info` answer for a finished canvas: the result's planned size, the source as its header
 * said (before any EXIF rotation), whether any pixel is not opaque, and the colours and
 * placeholders of a sample of at most 100 pixels a side, which the backend makes by the same
 * anti-aliased resize as every other step (a canvas decoded smaller for `info` gives the same
 * sample within rounding).
 */
export async function describeResult(
  canvas: Canvas,
  output: Size,
  source: { format: SourceFormat; probed: ImageInfo; bytes: number },
  components = DEFAULT_BLURHASH_COMPONENTS,
): Promise<Uint8Array<ArrayBuffer>> {
  const { probed } = source;
  const answer: InfoAnswer = {
    width: output.width,
    height: output.height,
    source: {
      format: source.format,
      width: probed.width,
      height: probed.height,
      frames: probed.frames ?? 1,
      bytes: source.bytes,
      orientation: probed.orientation,
    },
    alpha: await canvas.hasAlpha(),
    ...pixelFacts(await canvas.sample(THUMBHASH_MAX_SIDE), components),
  };
  return new TextEncoder().encode(JSON.stringify(answer));
}
