import type { MagickApi, Wand } from "./api.ts";
import { check, failure } from "./exception.ts";

/** How many images (frames) the wand holds. */
export function frameCount(api: MagickApi, wand: Wand): number {
  return Number(api.c.MagickGetNumberImages(wand));
}

/**
 * Runs `op` once per frame, first to last, with that frame as the wand's current image (the
 * one the libraries' single-image calls act on), then makes the first frame current again.
 *
 * @throws {Unprocessable} when a frame cannot be selected, or what `op` throws
 */
export function eachFrame(api: MagickApi, wand: Wand, op: (index: number) => void): void {
  const count = frameCount(api, wand);
  try {
    for (let index = 0; index < count; index++) {
      check(api, wand, api.selectImage(wand, index), "select a frame");
      op(index);
    }
  } finally {
    api.selectImage(wand, 0);
  }
}

/** A new wand holding a copy of the first image of a multi-image wand. */
export function firstFrame(api: MagickApi, wand: Wand): Wand {
  check(api, wand, api.selectImage(wand, 0), "select the first frame");
  const first = api.c.MagickGetImage(wand);
  if (!first) throw failure(api, wand, "select the first frame");
  return first;
}
