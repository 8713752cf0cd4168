import type { Rect } from "../lib/image/bitmap.ts";
import { BadRequest } from "../lib/errors.ts";
import { badArgument, maxSide, parseSide } from "./args.ts";
import type { Filter } from "./filter.ts";

const expected = "XxY-WxH with non-negative integers and a non-zero size";

/** Intersects the requested rectangle with the image. */
function clip(rect: Rect, width: number, height: number): Rect {
  const x = Math.min(rect.x, width);
  const y = Math.min(rect.y, height);
  return {
    x,
    y,
    width: Math.min(rect.x + rect.width, width) - x,
    height: Math.min(rect.y + rect.height, height) - y,
  };
}

/** `c,XxY-WxH`: keeps a rectangle, clipped to the image; no overlap at all is a 400. */
export const crop: Filter<Rect> = {
  name: "c",
  arity: 1,
  doc: {
    summary: "Keep a rectangle (clipped to the image)",
    template: "{x}x{y}-{width}x{height}",
    fields: [
      { name: "x", label: "Left (px)", kind: "integer", min: 0, max: maxSide, default: "0" },
      { name: "y", label: "Top (px)", kind: "integer", min: 0, max: maxSide, default: "0" },
      { name: "width", label: "Width (px)", kind: "integer", min: 1, max: maxSide, default: "100" },
      {
        name: "height",
        label: "Height (px)",
        kind: "integer",
        min: 1,
        max: maxSide,
        default: "100",
      },
    ],
  },
  parse(arg) {
    const match = /^(\d+)x(\d+)-(\d+)x(\d+)$/.exec(arg);
    const [x, y, width, height] = (match?.slice(1) ?? []).map(parseSide);
    if (x === undefined || y === undefined || !width || !height) {
      throw badArgument("crop", arg, expected);
    }
    return { x, y, width, height };
  },
  size(input, rect) {
    const clipped = clip(rect, input.width, input.height);
    if (clipped.width <= 0 || clipped.height <= 0) {
      const { x, y, width, height } = rect;
      throw new BadRequest(
        `Crop "${x}x${y}-${width}x${height}" lies outside the ${input.width}x${input.height} image`,
      );
    }
    return { width: clipped.width, height: clipped.height };
  },
  apply(canvas, rect) {
    const clipped = clip(rect, canvas.width, canvas.height);
    if (clipped.width === canvas.width && clipped.height === canvas.height) return;
    canvas.crop(clipped);
  },
};
