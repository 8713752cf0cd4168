import { badArgument } from "./args.ts";
import type { Filter } from "./filter.ts";

/** `f,h` mirrors left/right, `f,v` turns upside down. */
export const flip: Filter<"h" | "v"> = {
  name: "f",
  arity: 1,
  doc: {
    summary: "Mirror left/right (h) or turn upside down (v)",
    template: "{axis}",
    fields: [{
      name: "axis",
      label: "Axis",
      kind: "choice",
      choices: [{ value: "h", label: "horizontal (mirror)" }, {
        value: "v",
        label: "vertical (upside down)",
      }],
      default: "h",
    }],
  },
  parse(arg) {
    if (arg !== "h" && arg !== "v") throw badArgument("flip", arg, `"h" or "v"`);
    return arg;
  },
  size: (input) => input,
  apply(canvas, axis) {
    canvas.flip(axis);
  },
};
