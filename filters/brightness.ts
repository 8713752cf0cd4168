import { levelFilter } from "./level.ts";

/** `br,N`: adds N % of full scale to R, G and B (C' = C + 2.55·N), clamped; alpha kept. */
export const brightness = levelFilter(
  "br",
  "brightness",
  "Brightness: adds N % of white to every channel (C' = C + 2.55·N), alpha kept",
  (n) => [1, 0, 0, n / 100, 0, 1, 0, n / 100, 0, 0, 1, n / 100],
);
