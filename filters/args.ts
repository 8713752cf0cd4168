import { BadRequest } from "../lib/errors.ts";

/** The one shape of every argument error: what failed to parse and what was expected. */
export function badArgument(filter: string, arg: string, expected: string): BadRequest {
  return new BadRequest(`Cannot parse ${filter} "${arg}": expected ${expected}`);
}

/** Largest side we accept in a URL; the pixel limits apply on top. */
export const maxSide = 100_000;

/** Parses a decimal integer within 0..maxSide, or undefined. */
export function parseSide(text: string): number | undefined {
  if (!/^\d{1,6}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= maxSide ? value : undefined;
}
