import type { Rect, Size } from "../lib/image/bitmap.ts";
import { badArgument, maxSide, parseSide } from "./args.ts";
import type { Filter } from "./filter.ts";
import { type Gravity, gravityFractions, gravityNames, parseGravity } from "./gravity.ts";
import { SMART_SAMPLE_SIDE, smartWindow } from "./smart_crop.ts";

/** `exact` stretches, `fit` stays inside the box, `fill` covers the box then crops it. */
export type ResizeMode = "exact" | "fit" | "fill";

/**
 * Which part of the covering size `fill` keeps (the centre when there is none): an edge or
 * corner, a focus point in fractions of the source (0..1, `{x: 0.5, y: 0.5}` the centre), or
 * the window smartcrop scores highest.
 */
export type Anchor =
  | { gravity: Gravity }
  | { focus: { x: number; y: number } }
  | { smart: true };

export interface ResizeParams extends Size {
  mode: ResizeMode;
  /** `fill` only; absent for the centred crop. */
  anchor?: Anchor;
}

/** How much larger than its scaled size a smart fill's source is decoded (see `decodeHint`). */
const SMART_DECODE_MARGIN = 2;

const modifiers = new Map<string, ResizeMode>([["", "exact"], ["+", "fit"], ["-", "fill"]]);
const expected =
  `WxH with non-negative integers, not both 0, optionally followed by +, -, -G (G one of ${
    gravityNames.join(" ")
  }), -fX:Y (X and Y from 0 to 1) or -smart`;

/** A focus fraction: 0, 1 or a decimal between them, such as 0.25. */
function parseFraction(text: string): number | undefined {
  if (!/^[01](\.\d{1,6})?$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 1 ? value : undefined;
}

/** The `-…` suffix of a fill: "" (centre), a gravity or `fX:Y`; undefined when malformed. */
function parseAnchor(text: string): Anchor | null | undefined {
  if (text === "") return null;
  if (text === "smart") return { smart: true };
  const gravity = parseGravity(text);
  if (gravity) return { gravity };
  const focus = /^f([^:]*):(.*)$/.exec(text);
  const x = parseFraction(focus?.[1] ?? "");
  const y = parseFraction(focus?.[2] ?? "");
  return x === undefined || y === undefined ? undefined : { focus: { x, y } };
}

/**
 * Where a box of `box` pixels starts inside `scaled` pixels along one axis, for the anchor:
 * `floor(free × fraction)` for the centre and gravities, and for a focus point at `focus`
 * (a fraction of the source) the window centred on it, rounded, then moved inside the image.
 * A smart window is found on the pixels (see `apply`); until then it is the centre.
 */
function cropStart(scaled: number, box: number, axis: 0 | 1, anchor?: Anchor): number {
  const free = scaled - box;
  if (anchor && "focus" in anchor) {
    const centre = (axis === 0 ? anchor.focus.x : anchor.focus.y) * scaled;
    return Math.min(free, Math.max(0, Math.round(centre - box / 2)));
  }
  const gravity = anchor && "gravity" in anchor ? anchor.gravity : undefined;
  return Math.floor(free * gravityFractions(gravity)[axis]);
}

/** The size to resample to, and the crop that `fill` needs afterwards (see {@link cropStart}). */
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
    x: cropStart(scaled.width, p.width, 0, p.anchor),
    y: cropStart(scaled.height, p.height, 1, p.anchor),
    width: p.width,
    height: p.height,
  };
  return { scaled, crop };
}

/**
 * The image a resize makes between its two one-axis passes, when it is larger than both the
 * input and the result: only a resize that widens one axis and narrows the other makes one
 * (`s,1x60000` of 600x400: 600x60000). The magick libraries hold it whole, in whichever order
 * they choose, so the larger of the two orders counts there (pure and vips stream theirs).
 */
function onePassImage(input: Size, scaled: Size): Size[] {
  const across = { width: scaled.width, height: input.height };
  const down = { width: input.width, height: scaled.height };
  const pass = area(across) >= area(down) ? across : down;
  return area(pass) > Math.max(area(input), area(scaled)) ? [pass] : [];
}

const area = (size: Size) => size.width * size.height;

/** `s,WxH[+|-|-G|-fX:Y]`: resize with an anti-aliased filter; see {@link resizePlan}. */
export const resize: Filter<ResizeParams> = {
  name: "s",
  arity: 1,
  doc: {
    summary:
      "Resize with an anti-aliased (Lanczos3) filter; 0 keeps the aspect ratio; a fill keeps the centre, an edge or corner (-n, -se…) or a focus point (-fX:Y) or the most interesting region (-smart)",
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
          { value: "-", label: "fill and crop the centre" },
          ...gravityNames.map((g) => ({ value: `-${g}`, label: `fill and keep ${g}` })),
          { value: "-smart", label: "fill and keep the most interesting region" },
        ],
        default: "",
      },
    ],
  },
  parse(arg) {
    const match = /^(\d+)x(\d+)(?:(\+)|-(.*))?$/.exec(arg);
    const width = parseSide(match?.[1] ?? "");
    const height = parseSide(match?.[2] ?? "");
    const anchor = match?.[4] === undefined ? null : parseAnchor(match[4]);
    if (
      match === null || width === undefined || height === undefined || width + height === 0 ||
      anchor === undefined
    ) {
      throw badArgument("resize", arg, expected);
    }
    const mode = modifiers.get(match[3] ?? (match[4] === undefined ? "" : "-"))!;
    return anchor ? { width, height, mode, anchor } : { width, height, mode };
  },
  size(input, params) {
    const { scaled, crop } = resizePlan(input, params);
    return crop ? { width: crop.width, height: crop.height } : scaled;
  },
  intermediates(input, params, context) {
    const { scaled, crop } = resizePlan(input, params);
    const pass = context?.holdsResizePass ? onePassImage(input, scaled) : [];
    return [...(crop ? [scaled] : []), ...pass];
  },
  async apply(canvas, params, input) {
    const { scaled, crop } = resizePlan(input, params);
    if (scaled.width !== canvas.width || scaled.height !== canvas.height) canvas.resize(scaled);
    if (!crop) return;
    const smart = params.anchor && "smart" in params.anchor;
    // Decided on a small sample of the scaled image, so every backend picks the same window.
    const at = smart
      ? await smartWindow(await canvas.sample(SMART_SAMPLE_SIDE), scaled, crop)
      : crop;
    canvas.crop({ ...crop, x: at.x, y: at.y });
  },
  decodeHint(input, params) {
    const { scaled } = resizePlan(input, params);
    // A smart window is a discrete choice made on the pixels: decoders' reduced scales differ
    // enough (chroma upsampling) to flip it, so it is decided on twice the pixels.
    const margin = params.anchor && "smart" in params.anchor ? SMART_DECODE_MARGIN : 1;
    const needed = { width: scaled.width * margin, height: scaled.height * margin };
    return needed.width < input.width && needed.height < input.height ? needed : undefined;
  },
};
