import { LUMA } from "../lib/image/color.ts";
import { levelFilter } from "./level.ts";

/**
 * `sat,N`: scales each channel's distance from the pixel's luma Y = 0.299R + 0.587G + 0.114B
 * by s = 1 + N/100 (C' = Y + s·(C − Y)); -100 gives the grayscale filter's grey.
 */
export const saturation = levelFilter(
  "sat",
  "saturation",
  "Saturation: C' = Y + (1 + N/100)·(C − Y) with luma Y; -100 is grey, 100 doubles the colour",
  (n) => {
    const s = 1 + n / 100;
    const [r, g, b] = LUMA.map((weight) => weight * (1 - s));
    return [r + s, g, b, 0, r, g + s, b, 0, r, g, b + s, 0];
  },
);
