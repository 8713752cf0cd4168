/** An edge or corner: north is the top, west the left. */
export type Gravity = "n" | "s" | "e" | "w" | "ne" | "nw" | "se" | "sw";

// A Map, not an object literal: a token like "constructor" must not find a prototype property.
/** Where each gravity puts a box along x and y: 0 = left/top, 0.5 = centre, 1 = right/bottom. */
const fractions = new Map<string, readonly [number, number]>([
  ["n", [0.5, 0]],
  ["s", [0.5, 1]],
  ["e", [1, 0.5]],
  ["w", [0, 0.5]],
  ["ne", [1, 0]],
  ["nw", [0, 0]],
  ["se", [1, 1]],
  ["sw", [0, 1]],
]);

/** The gravity tokens, for messages and form controls. */
export const gravityNames = [...fractions.keys()] as Gravity[];

/** The gravity a token names, or undefined. */
export function parseGravity(token: string): Gravity | undefined {
  return fractions.has(token) ? token as Gravity : undefined;
}

/**
 * The fractions of the free space left of and above a box placed with `gravity` (centred
 * when undefined): the offset along an axis is `floor(free × fraction)`.
 */
export function gravityFractions(gravity: Gravity | undefined): readonly [number, number] {
  return gravity === undefined ? [0.5, 0.5] : fractions.get(gravity)!;
}
