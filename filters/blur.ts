import { blurPasses, blurScratch } from "../lib/image/blur.ts";
import { badArgument } from "./args.ts";
import type { Filter } from "./filter.ts";

/** `b,SIGMA`: Gaussian blur, SIGMA the standard deviation in pixels; 0 does nothing. */
export const blur: Filter<number> = {
  name: "b",
  arity: 1,
  doc: {
    summary: "Gaussian blur; SIGMA is the standard deviation in pixels, 0 does nothing",
    template: "{sigma}",
    fields: [{ name: "sigma", label: "Sigma (px)", kind: "number", min: 0, default: "2" }],
  },
  parse(arg, { maxBlurSigma }) {
    const sigma = /^\d+(\.\d+)?$/.test(arg) ? Number(arg) : NaN;
    if (!(sigma <= maxBlurSigma)) {
      throw badArgument("blur", arg, `a number from 0 to ${maxBlurSigma}`);
    }
    return sigma;
  },
  size: (input) => input,
  // The blur runs from a scratch copy of the image (16-bit samples on pure), framed by its
  // repeated edges on GraphicsMagick.
  intermediates: (input, sigma) => sigma > 0 ? [blurScratch(input, sigma)] : [],
  passes: blurPasses,
  apply(canvas, sigma) {
    if (sigma > 0) canvas.blur(sigma);
  },
};
