import type { Rect, Size } from "../lib/image/bitmap.ts";
import { badArgument, maxSide, parseSide } from "./args.ts";
import type { Filter } from "./filter.ts";

/** `exact` stretches, `fit` stays inside the box, `fill` covers the box then crops it. */
export type ResizeMode = "exact" | "fit" | "fill";

export interface ResizeParams extends Size {
  mode: ResizeMode;
}

const modifiers = new Map<string, ResizeMode>([["", "exact"], ["+", "fit"], ["-", "fill"]]);
const expected = "WxH with non-negative integers, not both 0, optionally followed by + or -";

/** The size to resample to, and the centred crop that `fill` needs afterwards. */
export function resizePlan(input: Size, p: ResizeParams): { scaled: Size; crop?: Rect } {
  const side = (value: number) => Math.max(1, Math.round(value));
  if (p.height === 0) {
    return { scaled: { width: p.width, height: side((input.height * p.width) / input.width) } };
  }
  if (p.width === 0) {
    return { scaled: { width: side((input.width * p.height) / input.height), height: p.height } };
  }
  if (p.mode === "exact") return { scaled: { width: p.width, height: p.height } };
  const ratios = [p.width / input.width, p.height / input.height];
  const scale = p.mode === "fit" ? Math.min(...ratios) : Math.max(...ratios);
  const clampTo = (value: number, box: number) =>
    p.mode === "fit" ? Math.min(box, side(value)) : Math.max(box, side(value));
  const scaled = {
    width: clampTo(input.width * scale, p.width),
    height: clampTo(input.height * scale, p.height),
  };
  if (p.mode === "fit") return { scaled };
  const crop = {
    x: Math.floor((scaled.width - p.width) / 2),
    y: Math.floor((scaled.height - p.height) / 2),
    width: p.width,
    height: p.height,
  };
  return { scaled, crop };
}

/** `s,WxH[+|-]`: resize with an anti-aliased filter; see {@link resizePlan}. */
export const resize: Filter<ResizeParams> = {
  name: "s",
  arity: 1,
  doc: {
    summary: "Resize with an anti-aliased (Lanczos3) filter; 0 keeps the aspect ratio",
    template: "{width}x{height}{mode}",
    fields: [
      { name: "width", label: "Width (px)", kind: "integer", min: 0, max: maxSide, default: "300" },
      { name: "height", label: "Height (px)", kind: "integer", min: 0, max: maxSide, default: "0" },
      {
        name: "mode",
        label: "Mode",
        kind: "choice",
        choices: [
          { value: "", label: "exact size" },
          { value: "+", label: "fit inside" },
          { value: "-", label: "fill and crop" },
        ],
        default: "",
      },
    ],
  },
  parse(arg) {
    const match = /^(\d+)x(\d+)([+-]?)$/.exec(arg);
    const width = parseSide(match?.[1] ?? "");
    const height = parseSide(match?.[2] ?? "");
    if (match === null || width === undefined || height === undefined || width + height === 0) {
      throw badArgument("resize", arg, expected);
    }
    return { width, height, mode: modifiers.get(match[3])! };
  },
  size(input, params) {
    const { scaled, crop } = resizePlan(input, params);
    return crop ? { width: crop.width, height: crop.height } : scaled;
  },
  peak(input, params) {
    return resizePlan(input, params).scaled;
  },
  apply(canvas, params, input) {
    const { scaled, crop } = resizePlan(input, params);
    if (scaled.width !== canvas.width || scaled.height !== canvas.height) canvas.resize(scaled);
    if (crop) canvas.crop(crop);
  },
  decodeHint(input, params) {
    const { scaled } = resizePlan(input, params);
    return scaled.width < input.width && scaled.height < input.height ? scaled : undefined;
  },
};
