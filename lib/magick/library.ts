import type { MagickApi } from "./api.ts";
import { type Dialect, graphicsmagick, imagemagick6, imagemagick7 } from "./dialects.ts";
import { openGraphicsMagick } from "./graphicsmagick.ts";
import { openImageMagick } from "./imagemagick.ts";

/** The wand libraries we can drive. */
export type MagickLibrary = "imagemagick" | "graphicsmagick";

/** The dialects tried for each library, in order of preference. */
const dialectsOf: Readonly<Record<MagickLibrary, readonly Dialect[]>> = {
  imagemagick: [imagemagick6, imagemagick7],
  graphicsmagick: [graphicsmagick],
};

const openers = { imagemagick: openImageMagick, graphicsmagick: openGraphicsMagick };

/**
 * Loads the first installed library of `dialects` and starts it.
 *
 * @throws {Error} naming the Debian package to install when none of them is installed
 */
export function openMagick(
  library: MagickLibrary,
  dialects: readonly Dialect[] = dialectsOf[library],
): MagickApi {
  // OpenMP reads this once, when the library pulls libgomp in. One thread per worker is the
  // plan anyway, and GraphicsMagick's spinning OpenMP threads crashed the process at exit.
  Deno.env.set("OMP_NUM_THREADS", "1");
  for (const dialect of dialects) {
    for (const soname of dialect.sonames) {
      try {
        return openers[library](dialect, soname);
      } catch (error) {
        // A library that is present but lacks a symbol is a real error, not a missing one.
        if (!/cannot open shared object file|No such file/.test((error as Error).message)) {
          throw error;
        }
      }
    }
  }
  const tried = dialects.flatMap((dialect) => dialect.sonames).join(", ");
  throw new Error(
    `Cannot load ${library} (tried ${tried}): install the Debian package "${
      dialects[0].debianPackage
    }"`,
  );
}
