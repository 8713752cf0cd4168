import type { Step } from "./url.ts";

/**
 * The filter steps that turn an image stored with EXIF orientation 1..8 upright, using the
 * chain's own rotate (counter-clockwise) and flip filters, so every backend does it alike.
 */
const uprightSteps: Record<number, Step[]> = {
  2: [{ name: "f", params: "h" }],
  3: [{ name: "r", params: 180 }],
  4: [{ name: "f", params: "v" }],
  // Transpose: mirrored along the top-left to bottom-right diagonal.
  5: [{ name: "r", params: 90 }, { name: "f", params: "v" }],
  6: [{ name: "r", params: 270 }],
  // Transverse: mirrored along the other diagonal.
  7: [{ name: "r", params: 270 }, { name: "f", params: "v" }],
  8: [{ name: "r", params: 90 }],
};

/** The steps that make an image of this orientation upright (none for 1 or unknown values). */
export function orientationSteps(orientation: number): Step[] {
  return uprightSteps[orientation] ?? [];
}

/** Whether the orientation swaps width and height. */
export function isTransposed(orientation: number): boolean {
  return orientation >= 5 && orientation <= 8;
}
