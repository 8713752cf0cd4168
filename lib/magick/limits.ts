import type { ImageLimits } from "../image/limits.ts";
import type { MagickApi } from "./api.ts";
import type { Resource } from "./dialects.ts";

/**
 * The limits the magick backend enforces inside the library, as a second line of defence
 * behind the pipeline's own checks. The byte limit has no counterpart there (GraphicsMagick's
 * "read" resource does not apply to blobs), so it is not taken.
 */
export type MagickLimits =
  & Pick<ImageLimits, "maxSourcePixels">
  & Partial<Pick<ImageLimits, "maxOutputPixels">>;

/** A Q16 pixel cache holds 4 samples of 2 bytes; HDRI builds hold floats, twice that. */
const CACHE_BYTES_PER_PIXEL = 16;
/** A step such as resize holds its source, an intermediate and its result at once. */
const IMAGES_PER_STEP = 3;

/**
 * The resource limits for one process in which `workers` workers use the library at once:
 * images no larger than the configured limits, pixel caches in memory only (never spilled to
 * temporary files), one thread each. The size limits apply per image and are exclusive in
 * ImageMagick (an image of exactly the limit is refused), so they are one above ours; memory
 * and map are totals over the whole process, so every worker gets its share. ImageMagick's
 * "time" limit is deliberately left alone: it counts from the first image the process ever
 * made and is a fatal error that ends the process, so it would kill a long-running server.
 */
export function resourceLimits(limits: MagickLimits, workers = 1): Record<Resource, number> {
  const pixels = Math.max(limits.maxSourcePixels, limits.maxOutputPixels ?? 0);
  const bytes = pixels * CACHE_BYTES_PER_PIXEL * IMAGES_PER_STEP * workers;
  return {
    area: pixels + 1,
    width: pixels + 1,
    height: pixels + 1,
    memory: bytes,
    map: bytes,
    disk: 0,
    thread: 1,
  };
}

/**
 * The largest side the library will make, when its own policy (ImageMagick's policy.xml, 16K
 * on Debian) is below ours: planning then refuses larger images with a 400 before any work,
 * instead of the library failing halfway. Its limits are exclusive, hence the 1.
 */
export function policySideLimit(api: MagickApi, limits: MagickLimits): number | undefined {
  const read = api.c.MagickGetResourceLimit;
  if (!read) return undefined;
  const ours = resourceLimits(limits).width;
  const sides = [api.dialect.resources.width, api.dialect.resources.height].map((type) =>
    Number(read(type))
  );
  const smallest = Math.min(...sides);
  return smallest > 0 && smallest < ours ? smallest - 1 : undefined;
}

/**
 * Applies `resourceLimits` to an opened library. Limits are process-wide. ImageMagick's
 * policy.xml sets their ceilings: the project's (lib/magick/policy.xml) sets these same values,
 * so the system's file neither lowers nor raises them. GraphicsMagick has no policy file; these
 * calls replace whatever its `MAGICK_LIMIT_*` environment set.
 *
 * @throws {Error} when the library refuses a limit
 */
export function applyLimits(api: MagickApi, limits: MagickLimits, workers = 1): void {
  for (const [resource, value] of Object.entries(resourceLimits(limits, workers))) {
    const type = api.dialect.resources[resource as Resource];
    if (api.c.MagickSetResourceLimit(type, BigInt(value)) === 0) {
      throw new Error(`${api.dialect.label} refused the "${resource}" limit ${value}`);
    }
  }
}
