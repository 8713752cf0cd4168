import type { Backend } from "../image/backend.ts";
import type { BackendName } from "../config/config.ts";
import type { ImageLimits } from "../image/limits.ts";
import { createMagickBackend } from "../magick/backend.ts";
import { pureBackend } from "../pure/backend.ts";

/**
 * Opens the configured backend. For the magick backends this loads the native library, so a
 * missing one fails here, at start-up, with the package to install. sharp (vips) is imported
 * only when configured: its native addon and libvips are loaded into the process with it.
 */
export async function openBackend(name: BackendName, limits: ImageLimits): Promise<Backend> {
  if (name === "pure") return pureBackend;
  if (name === "vips") return (await import("../vips/backend.ts")).createVipsBackend(limits);
  return createMagickBackend(name, limits);
}
