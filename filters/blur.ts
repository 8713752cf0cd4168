import { badArgument } from "./args.ts";
import type { Filter } from "./filter.ts";

/** `b,SIGMA`: Gaussian blur, SIGMA the standard deviation in pixels; 0 does nothing. */
export const blur: Filter<number> = {
  name: "b",
  arity: 1,
  parse(arg, { maxBlurSigma }) {
    const sigma = /^\d+(\.\d+)?$/.test(arg) ? Number(arg) : NaN;
    if (!(sigma <= maxBlurSigma)) {
      throw badArgument("blur", arg, `a number from 0 to ${maxBlurSigma}`);
    }
    return sigma;
  },
  size: (input) => input,
  apply(canvas, sigma) {
    if (sigma > 0) canvas.blur(sigma);
  },
};
