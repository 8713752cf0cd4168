import { cString, type MagickApi, pixelRegion, storageOf, type Wand } from "./api.ts";
import type { Dialect } from "./dialects.ts";
import { commonSymbols, effectSymbols, graphicsmagickSymbols } from "./symbols.ts";

/** `MAGICK_OPT_NO_SIGNAL_HANDER` (sic), InitializeMagickEx's option. */
const NO_SIGNAL_HANDLERS = 1;

/** `CompositeOperator.CopyCompositeOp`: replaces every channel, alpha included. */
const COPY_COMPOSITE = 13;

type Symbols = Deno.DynamicLibrary<
  typeof commonSymbols & typeof graphicsmagickSymbols & typeof effectSymbols
>["symbols"];

/** Opens GraphicsMagick from `path` and initialises it (it has no MagickWandGenesis). */
export function openGraphicsMagick(dialect: Dialect, path: string): MagickApi {
  const { symbols } = Deno.dlopen(path, {
    ...commonSymbols,
    ...graphicsmagickSymbols,
    ...effectSymbols,
  });
  // Without its signal handlers: GraphicsMagick's own would quit the process on SIGHUP (the
  // config reload), SIGINT or SIGTERM (the graceful stop) after the runtime's ran.
  if (symbols.InitializeMagickEx(null, NO_SIGNAL_HANDLERS, null) === 0) {
    throw new Error(`GraphicsMagick (${path}) failed to start`);
  }
  return {
    dialect,
    c: symbols,
    // The wand's format alone still lets GraphicsMagick sniff; a "PNG:" file name does not.
    setReadFormat: (wand, coder, name, firstOnly) =>
      symbols.MagickSetFormat(wand, cString(coder)) !== 0 &&
      symbols.MagickSetFilename(wand, cString(`${coder}:${name}${firstOnly ? "[0]" : ""}`)) !==
        0,
    // The images' names (see setReadFormat) are what lib/magick/interrupt.ts goes by.
    watch: () => true,
    // GraphicsMagick's JPEG reader takes the wand's size as its shrink-on-load target.
    setDecodeSize: (wand, width, height) =>
      symbols.MagickSetSize(wand, BigInt(width), BigInt(height)) !== 0,
    ensureRgb: (wand) =>
      symbols.MagickGetImageColorspace(wand) !== dialect.cmyk ||
      symbols.MagickSetImageColorspace(wand, dialect.rgb) !== 0,
    // GraphicsMagick decoders report to the wand.
    takeImageException: () => ({ severity: 0, message: "" }),
    selectImage: (wand, index) => symbols.MagickSetImageIndex(wand, BigInt(index)) !== 0,
    hasAlpha: (wand) => symbols.MagickGetImageMatte(wand) !== 0,
    exportRows: (wand, y, count, map, out, span) =>
      symbols.MagickGetImagePixels(
        wand,
        ...pixelRegion(symbols, wand, y, count, map, out, span),
        cString(map),
        storageOf(dialect, out),
        out,
      ) !== 0,
    importRows: (wand, y, count, map, data, span) =>
      symbols.MagickSetImagePixels(
        wand,
        ...pixelRegion(symbols, wand, y, count, map, data, span),
        cString(map),
        storageOf(dialect, data),
        data,
      ) !== 0,
    resize: (wand, width, height) =>
      symbols.MagickResizeImage(wand, BigInt(width), BigInt(height), dialect.lanczos, 1.0) !== 0,
    // A radius of 0 lets the library size the kernel from sigma.
    blur: (wand, sigma) => symbols.MagickBlurImage(wand, 0, sigma) !== 0,
    setQuality: (wand, quality) => symbols.MagickSetCompressionQuality(wand, BigInt(quality)) !== 0,
    // The JPEG writer goes grey only for images flagged grey when read, and a pixel import
    // (the grayscale filter) clears that flag; there is no wand call that forces colour.
    setCoderOption: (wand, coder, key, value) =>
      symbols.MagickSetImageOption(wand, cString(coder), cString(key), cString(value)) !== 0,
    keepTrueColor: () => true,
    blankImage: (width, height, alpha, name) =>
      blankImage(symbols, BigInt(width), BigInt(height), alpha, name),
    copyPixels: (wand) => pixelsOnly(symbols, wand),
    flatten: (wand) => symbols.MagickFlattenImages(wand),
    // MagickWriteImageBlob writes from the current image on; the encoder hands it one image.
    writeBlob: (wand, length) => symbols.MagickWriteImageBlob(wand, length),
  };
}

/** A new wand with one blank image from the built-in "xc" coder, named `name`, or null. */
function blankImage(
  symbols: Symbols,
  width: bigint,
  height: bigint,
  alpha: boolean,
  name: string,
) {
  const wand = symbols.NewMagickWand();
  if (!wand) return null;
  const made = symbols.MagickSetSize(wand, width, height) !== 0 &&
    symbols.MagickReadImage(wand, cString(alpha ? "xc:none" : "xc:black")) !== 0 &&
    symbols.MagickSetImageFilename(wand, cString(name)) !== 0;
  if (made) return wand;
  symbols.DestroyMagickWand(wand);
  return null;
}

/** A new wand with a blank canvas and the pixels copied on. */
function pixelsOnly(symbols: Symbols, wand: Wand): Deno.PointerValue {
  const alpha = symbols.MagickGetImageMatte(wand) !== 0;
  const width = symbols.MagickGetImageWidth(wand);
  const height = symbols.MagickGetImageHeight(wand);
  const copy = blankImage(symbols, width, height, alpha, "");
  if (!copy) return null;
  if (symbols.MagickCompositeImage(copy, wand, COPY_COMPOSITE, 0n, 0n) !== 0) return copy;
  symbols.DestroyMagickWand(copy);
  return null;
}
