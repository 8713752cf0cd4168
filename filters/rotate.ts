import { badArgument } from "./args.ts";
import type { Filter } from "./filter.ts";

type Degrees = 90 | 180 | 270;
// A Map, not an object literal: a token like "constructor" must not find a prototype property.
const angles = new Map<string, Degrees>([["90", 90], ["180", 180], ["270", 270]]);

/** `r,90|180|270`: rotates counter-clockwise, as the original server did. */
export const rotate: Filter<Degrees> = {
  name: "r",
  arity: 1,
  doc: {
    summary: "Rotate counter-clockwise",
    template: "{degrees}",
    fields: [{
      name: "degrees",
      label: "Degrees",
      kind: "choice",
      choices: [90, 180, 270].map((d) => ({ value: String(d), label: `${d}°` })),
      default: "90",
    }],
  },
  parse(arg) {
    const degrees = angles.get(arg);
    if (degrees === undefined) throw badArgument("rotate", arg, `"90", "180" or "270"`);
    return degrees;
  },
  size: (input, degrees) => degrees === 180 ? input : { width: input.height, height: input.width },
  apply(canvas, degrees) {
    canvas.rotate(degrees);
  },
};
