import type { Backend } from "../image/backend.ts";
import type { BackendName } from "../config/config.ts";
import type { ImageLimits } from "../image/limits.ts";
import { createMagickBackend } from "../magick/backend.ts";
import { pureBackend } from "../pure/backend.ts";

/**
 * Opens the configured backend. For the magick backends this loads the native library, so a
 * missing one fails here, at start-up, with the package to install.
 */
export function openBackend(name: BackendName, limits: ImageLimits): Backend {
  return name === "pure" ? pureBackend : createMagickBackend(name, limits);
}
