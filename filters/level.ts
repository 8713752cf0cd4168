import type { ColorMatrix } from "../lib/image/color.ts";
import { badArgument } from "./args.ts";
import type { Filter } from "./filter.ts";

/** Parses an integer from -100 to 100 (no plus sign, no leading zeros beyond one digit). */
function parseLevel(arg: string): number | undefined {
  if (!/^-?(0|[1-9]\d{0,2})$/.test(arg)) return undefined;
  const value = Number(arg);
  return Math.abs(value) <= 100 ? value + 0 : undefined;
}

/**
 * A colour filter with one level N from -100 to 100 (0 changes nothing): its token, what it
 * is called in messages, and the colour matrix a level stands for.
 */
export function levelFilter(
  name: string,
  label: string,
  summary: string,
  matrixOf: (level: number) => ColorMatrix,
): Filter<number> {
  return {
    name,
    arity: 1,
    doc: {
      summary,
      template: "{level}",
      fields: [{
        name: "level",
        label: "Level",
        kind: "integer",
        min: -100,
        max: 100,
        default: "0",
      }],
    },
    parse(arg) {
      const level = parseLevel(arg);
      if (level === undefined) throw badArgument(label, arg, "an integer from -100 to 100");
      return level;
    },
    size: (input) => input,
    apply(canvas, level) {
      if (level !== 0) canvas.transformColors(matrixOf(level));
    },
  };
}
