import { parseHexColor, type Rgba } from "../lib/image/color.ts";
import type { Size } from "../lib/image/bitmap.ts";
import { BadRequest } from "../lib/errors.ts";
import { badArgument, maxSide, parseSide } from "./args.ts";
import type { Filter } from "./filter.ts";

export interface PadParams extends Size {
  /** The border's colour, straight RGBA. */
  color: Rgba;
}

const expected = "WxH, WxH:RRGGBB or WxH:RRGGBBAA with positive integers and hex digits";
const TRANSPARENT: Rgba = [0, 0, 0, 0];

/** Where the image goes in the box: centred, the odd pixel of an odd margin on the right/bottom. */
function offset(input: Size, box: Size) {
  return {
    x: Math.floor((box.width - input.width) / 2),
    y: Math.floor((box.height - input.height) / 2),
  };
}

/** `pad,WxH[:RRGGBB[AA]]`: extends the canvas to exactly WxH around the centred image. */
export const pad: Filter<PadParams> = {
  name: "pad",
  arity: 1,
  doc: {
    summary:
      "Extend the canvas to exactly WxH, the image centred, the border in a colour (default transparent)",
    template: "{width}x{height}:{color}",
    fields: [
      { name: "width", label: "Width (px)", kind: "integer", min: 1, max: maxSide, default: "400" },
      {
        name: "height",
        label: "Height (px)",
        kind: "integer",
        min: 1,
        max: maxSide,
        default: "400",
      },
      { name: "color", label: "Colour (RRGGBB or RRGGBBAA)", kind: "text", default: "ffffff" },
    ],
  },
  parse(arg) {
    const match = /^(\d+)x(\d+)(?::(.*))?$/.exec(arg);
    const width = parseSide(match?.[1] ?? "");
    const height = parseSide(match?.[2] ?? "");
    const color = match?.[3] === undefined ? TRANSPARENT : parseHexColor(match[3]);
    if (!width || !height || color === undefined) throw badArgument("pad", arg, expected);
    return { width, height, color };
  },
  size(input, params) {
    if (input.width > params.width || input.height > params.height) {
      throw new BadRequest(
        `Cannot pad the ${input.width}x${input.height} image to ${params.width}x${params.height}: the box must be at least as large as the image (resize it first, e.g. s,${params.width}x${params.height}+)`,
      );
    }
    return { width: params.width, height: params.height };
  },
  // The backends draw the image onto a new canvas of the box filled with the colour.
  intermediates: (_input, params) => [{ width: params.width, height: params.height }],
  addsAlpha: (params) => params.color[3] < 255,
  apply(canvas, params) {
    const image = { width: canvas.width, height: canvas.height };
    if (image.width === params.width && image.height === params.height) return;
    canvas.extend(params, offset(image, params), params.color);
  },
};
