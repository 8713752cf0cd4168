import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import type { MagickApi, Wand } from "./api.ts";

/**
 * Operations on fewer pixels than this run unwatched: whatever they are (blur and sharpen
 * aside, which are always watched since their cost grows with sigma), they end within tens of
 * milliseconds, and the job checks its token between operations anyway. ImageMagick calls its
 * progress monitor for every row of every pass, ~1700 times for W1 (4096x4096 JPEG → 400 wide),
 * and each call into JavaScript costs about a microsecond: watching W1's small resize and encode
 * too cost 4–6% of its CPU; watching only its decode costs under 2%.
 */
export const WATCH_MIN_PIXELS = 1 << 20;

/**
 * Compressed bytes from which a decode is watched whatever pixels it makes: a JPEG's entropy
 * decoding costs every reduced scale in full, about 12 ns a byte here (W1's 1.3 MB: 15 ms at
 * 1/8), so a decode that makes few pixels is short only while the file is small. ImageMagick's
 * JPEG reader calls the monitor once a row it makes, and watching W1's 1/8-scale decode cost
 * 3.5% of the image's CPU (1.0 of 30.1 ms, `bench/cancel_cost.ts`'s reading of it).
 */
export const WATCH_MIN_BYTES = 2 << 20;

/**
 * Watches the wand's current image for cancellation (see `MagickApi.watch`) when the operation
 * about to run touches at least `WATCH_MIN_PIXELS` pixels, and stops watching it otherwise.
 */
export function watchLongWork(
  api: MagickApi,
  wand: Wand,
  cancel: CancelToken,
  pixels: number,
): boolean {
  return api.watch(wand, pixels >= WATCH_MIN_PIXELS ? cancel : neverCancelled);
}
