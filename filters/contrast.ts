import { levelFilter } from "./level.ts";

/**
 * `ct,N`: scales each channel's distance from mid-grey by k = 1 + N/100
 * (C' = 127.5 + k·(C − 127.5)), so the spread of values is multiplied by k; -100 is flat grey.
 */
export const contrast = levelFilter(
  "ct",
  "contrast",
  "Contrast: C' = 127.5 + (1 + N/100)·(C − 127.5); -100 is flat grey, 100 doubles the spread",
  (n) => {
    const k = 1 + n / 100;
    const offset = 0.5 * (1 - k);
    return [k, 0, 0, offset, 0, k, 0, offset, 0, 0, k, offset];
  },
);
