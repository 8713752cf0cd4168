import { badArgument } from "./args.ts";
import type { Filter } from "./filter.ts";

type Degrees = 90 | 180 | 270;
const angles: Record<string, Degrees> = { "90": 90, "180": 180, "270": 270 };

/** `r,90|180|270`: rotates counter-clockwise, as the original server did. */
export const rotate: Filter<Degrees> = {
  name: "r",
  arity: 1,
  parse(arg) {
    const degrees = angles[arg];
    if (degrees === undefined) throw badArgument("rotate", arg, `"90", "180" or "270"`);
    return degrees;
  },
  size: (input, degrees) => degrees === 180 ? input : { width: input.height, height: input.width },
  apply(canvas, degrees) {
    canvas.rotate(degrees);
  },
};
