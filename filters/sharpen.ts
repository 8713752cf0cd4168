import { blurPasses, blurScratch } from "../lib/image/blur.ts";
import { badArgument } from "./args.ts";
import type { Filter } from "./filter.ts";

/** Sigmas outside this range do nothing visible (below) or only halo (above). */
const MIN_SIGMA = 0.3;
const MAX_SIGMA = 10;

/** `sh,SIGMA`: unsharp mask of amount 1, SIGMA the blur's standard deviation in pixels. */
export const sharpen: Filter<number> = {
  name: "sh",
  arity: 1,
  doc: {
    summary: "Sharpen: unsharp mask C' = C + (C − blur(C, SIGMA)), amount 1, alpha kept",
    template: "{sigma}",
    fields: [{
      name: "sigma",
      label: "Sigma (px)",
      kind: "number",
      min: MIN_SIGMA,
      max: MAX_SIGMA,
      default: "1",
    }],
  },
  parse(arg) {
    const sigma = /^\d{1,2}(\.\d{1,6})?$/.test(arg) ? Number(arg) : NaN;
    if (!(sigma >= MIN_SIGMA && sigma <= MAX_SIGMA)) {
      throw badArgument("sharpen", arg, `a number from ${MIN_SIGMA} to ${MAX_SIGMA}`);
    }
    return sigma;
  },
  size: (input) => input,
  // The unsharp mask subtracts a blurred copy of the whole image (framed, as for `b`).
  intermediates: (input, sigma) => [blurScratch(input, sigma)],
  // The blur, then the mask's subtraction from the image.
  passes: (sigma) => blurPasses(sigma) + 1,
  apply(canvas, sigma) {
    canvas.sharpen(sigma);
  },
};
