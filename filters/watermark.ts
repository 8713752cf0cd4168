import type { Size } from "../lib/image/bitmap.ts";
import { BadRequest } from "../lib/errors.ts";
import type { Filter } from "./filter.ts";
import { type Gravity, gravityFractions } from "./gravity.ts";

/** One configured watermark (config `watermarks`). */
export interface Watermark {
  name: string;
  /** Where its image is: a configured storage and a path in it. */
  storage: string;
  path: string;
  /** The edge or corner it sits in. */
  gravity: Gravity;
  /** 0..1, multiplied into its alpha. */
  opacity: number;
  /** Its width as a fraction (0..1] of the output's width; the height keeps its aspect. */
  scale: number;
  /** Pixels kept free between it and the edges its gravity names. */
  margin: number;
}

/**
 * Where the mark goes: its size from `scale` (width `round(W·scale)`, at least 1, height by its
 * aspect), and its top-left corner `margin + floor((W − w − 2·margin)·f)` across, f = 0, ½ or 1
 * from the gravity (likewise down), never left of or above the image.
 */
export function placeWatermark(
  image: Size,
  mark: Size,
  watermark: Watermark,
): { size: Size; at: { x: number; y: number } } {
  const width = Math.max(1, Math.round(image.width * watermark.scale));
  const height = Math.max(1, Math.round((mark.height * width) / mark.width));
  const [fx, fy] = gravityFractions(watermark.gravity);
  const { margin } = watermark;
  const start = (free: number, fraction: number) =>
    Math.max(0, margin + Math.floor((free - 2 * margin) * fraction));
  return {
    size: { width, height },
    at: { x: start(image.width - width, fx), y: start(image.height - height, fy) },
  };
}

/** `wm,NAME`: composites the configured watermark NAME over the image. */
export const watermark: Filter<Watermark> = {
  name: "wm",
  arity: 1,
  doc: {
    summary:
      "Composite a configured watermark (config `watermarks`) at its gravity, scale and opacity",
    template: "{name}",
    fields: [
      { name: "name", label: "Watermark", kind: "text", default: "logo", namesFrom: "watermarks" },
    ],
  },
  parse(arg, { watermarks }) {
    const found = watermarks?.get(arg);
    if (!found) {
      const known = [...watermarks?.keys() ?? []].map((n) => `"${n}"`).join(", ");
      const name = arg.length > 200 ? `${arg.slice(0, 200)}…` : arg;
      throw new BadRequest(
        `Unknown watermark "${name}": expected ${
          known ? `one of ${known}` : "a name from the config's watermarks, which lists none"
        }`,
      );
    }
    // The whole entry, not the name: a changed setting changes the result's identity.
    return found;
  },
  size: (input) => input,
  async apply(canvas, params, _input, context) {
    const mark = await context.overlay(params.name);
    try {
      const { size, at } = placeWatermark(canvas, mark, params);
      if (size.width !== mark.width || size.height !== mark.height) mark.resize(size);
      canvas.composite(await mark.sample(Infinity), at, params.opacity);
    } finally {
      mark.dispose();
    }
  },
};
