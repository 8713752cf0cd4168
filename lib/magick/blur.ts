import type { MagickApi, Wand } from "./api.ts";
import { check } from "./exception.ts";
import { rewritePixels } from "./pixels.ts";

const MAX = 65535;

/**
 * Gaussian blur with standard deviation `sigma` pixels, weighting colour by alpha so a
 * transparent neighbour's (invisible) colour does not bleed into the visible pixels.
 * ImageMagick weights by alpha itself; GraphicsMagick blurs each channel on its own, so
 * there the pixels are premultiplied around the blur.
 *
 * @throws {Unprocessable} with the library's message
 */
export function blurWand(api: MagickApi, wand: Wand, sigma: number): void {
  const premultiply = !api.dialect.blurWeightsAlpha && api.hasAlpha(wand);
  if (premultiply) rewritePixels(api, wand, "RGBA", toPremultiplied);
  check(api, wand, api.blur(wand, sigma), "blur");
  if (premultiply) rewritePixels(api, wand, "RGBA", toStraight);
}

function toPremultiplied(samples: Uint16Array): void {
  for (let i = 0; i < samples.length; i += 4) {
    const alpha = samples[i + 3];
    for (let c = i; c < i + 3; c++) samples[c] = Math.round((samples[c] * alpha) / MAX);
  }
}

/** Divides colour by alpha again; a pixel that ended fully transparent becomes black. */
function toStraight(samples: Uint16Array): void {
  for (let i = 0; i < samples.length; i += 4) {
    const alpha = samples[i + 3];
    for (let c = i; c < i + 3; c++) {
      samples[c] = alpha === 0 ? 0 : Math.min(MAX, Math.round((samples[c] * MAX) / alpha));
    }
  }
}
