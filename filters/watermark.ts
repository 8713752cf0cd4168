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

/** Source pixels a Lanczos3 tap reaches beyond the last one a scaled pixel covers, plus one. */
const RESAMPLE_REACH = 4;

/**
 * The part of a mark that is drawn, along one axis: the mark's `source` pixels scale to
 * `scaled`, of which the first `visible` lie inside the image. Only the source pixels those
 * need (with the filter's reach) are kept, and scaled by the same factor, so a mark scaled far
 * past the image's edge costs what is drawn, not what would have been.
 */
function keptAlong(source: number, scaled: number, visible: number) {
  if (visible >= scaled) return { source, scaled };
  const reach = RESAMPLE_REACH * Math.max(1, source / scaled);
  const kept = Math.min(source, Math.ceil((visible * source) / scaled + reach));
  if (kept === source) return { source, scaled };
  return { source: kept, scaled: Math.max(visible, Math.round((kept * scaled) / source)) };
}

/**
 * How a mark is drawn without making more than what shows: the `crop` of its decoded image
 * to keep (from its top-left corner, the only side a mark can stick out of is the right and
 * bottom), the size that crop is `scale`d to, and the `visible` size drawn at `at`; undefined
 * when no pixel of it lands in the image.
 */
export function watermarkPlan(image: Size, mark: Size, watermark: Watermark) {
  const { size, at } = placeWatermark(image, mark, watermark);
  const visible = {
    width: Math.min(size.width, image.width - at.x),
    height: Math.min(size.height, image.height - at.y),
  };
  if (visible.width <= 0 || visible.height <= 0) return undefined;
  const x = keptAlong(mark.width, size.width, visible.width);
  const y = keptAlong(mark.height, size.height, visible.height);
  return {
    crop: { x: 0, y: 0, width: x.source, height: y.source },
    scale: { width: x.scaled, height: y.scaled },
    visible,
    at,
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
  intermediates(input, params, context) {
    const source = context.overlaySize(params.name);
    const plan = watermarkPlan(input, source, params);
    return plan ? [source, plan.scale, plan.visible] : [];
  },
  async apply(canvas, params, _input, context) {
    const plan = watermarkPlan(canvas, context.overlaySize(params.name), params);
    if (!plan) return;
    const mark = await context.overlay(params.name);
    try {
      const { crop, scale, visible, at } = plan;
      if (crop.width !== mark.width || crop.height !== mark.height) mark.crop(crop);
      if (scale.width !== mark.width || scale.height !== mark.height) mark.resize(scale);
      if (visible.width !== scale.width || visible.height !== scale.height) {
        mark.crop({ x: 0, y: 0, ...visible });
      }
      canvas.composite(await mark.sample(Infinity), at, params.opacity);
    } finally {
      mark.dispose();
    }
  },
};
