import type { Backend } from "../image/backend.ts";
import { neverCancelled } from "../image/cancel.ts";
import { pngDataOverflows, withoutTextChunks } from "../image/png_data.ts";
import { Unprocessable } from "../errors.ts";
import { MagickCanvas } from "./canvas.ts";
import { avifAsPam } from "./avif.ts";
import { decodeWand } from "./decode.ts";
import { encodeWand } from "./encode.ts";
import type { EncodedType } from "../image/formats.ts";
import { wasmEncoders } from "../image/wasm_encoders.ts";
import { type MagickLibrary, openMagick } from "./library.ts";
import { applyLimits, type MagickLimits, policySideLimit, resourceLimits } from "./limits.ts";
import { withProjectPolicy } from "./policy.ts";

/**
 * A PNG as the magick libraries may read it: refused when its image data inflates past its
 * rows (both inflate all of it), and without text chunks (ImageMagick inflates them whole);
 * see lib/image/png_data.ts.
 */
async function pngForMagick(bytes: Uint8Array): Promise<Uint8Array> {
  if (await pngDataOverflows(bytes)) {
    throw new Unprocessable(
      "Cannot decode the png source: its image data inflates to more than its pixels need",
    );
  }
  return withoutTextChunks(bytes);
}

/**
 * A backend on ImageMagick (6, or 7 where that is what is installed) or GraphicsMagick,
 * called through FFI. Creating it loads the library, so a missing one fails at start-up.
 * `workers` is how many workers of the process share the library's process-wide limits.
 *
 * @example
 * ```ts
 * const backend = createMagickBackend("graphicsmagick", { maxSourcePixels: 50_000_000 });
 * const hint = { minSize: { width: 400, height: 300 } };
 * const canvas = await backend.decode(bytes, "jpeg", { hint, allFrames: false });
 * ```
 * @throws {Error} naming the Debian package to install when the library is missing
 */
export function createMagickBackend(
  library: MagickLibrary,
  limits: MagickLimits,
  workers = 1,
): Backend {
  const api = library === "imagemagick"
    ? withProjectPolicy(resourceLimits(limits, workers), () => openMagick(library))
    : openMagick(library);
  applyLimits(api, limits, workers);
  return {
    name: library,
    jpegDecoder: "libjpeg",
    maxSide: policySideLimit(api, limits),
    // The work is synchronous; Promise.try turns its errors into rejections, as callers
    // of a Promise-returning method expect.
    async decode(bytes, format, options) {
      const cancel = options.cancel ?? neverCancelled;
      const readable = format === "avif"
        ? await avifAsPam(bytes)
        : format === "png"
        ? await pngForMagick(bytes)
        : bytes;
      cancel.check();
      return new MagickCanvas(api, decodeWand(api, readable, format, library, options), cancel);
    },
    encode(canvas, format) {
      const { wand, cancel } = canvas as MagickCanvas;
      // Debian's ImageMagick writes AVIF through libheif at a fixed, slow speed (~250 ms for
      // 400x300), GraphicsMagick cannot write it, and neither writes JPEG XL.
      const wasm = wasmEncoders.get(format.type as EncodedType);
      if (wasm) {
        return Promise.try(() => {
          cancel.check();
          return canvas.sample(Infinity);
        }).then((pixels) => wasm(pixels, format.quality));
      }
      return Promise.try(() => {
        cancel.check();
        return encodeWand(api, wand, format, cancel);
      });
    },
  };
}
