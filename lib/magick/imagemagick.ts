import { cString, type MagickApi, pixelRegion, storageOf, type WandException } from "./api.ts";
import { type Dialect, imagemagick7 } from "./dialects.ts";
import { tidyMessage } from "./exception.ts";
import {
  commonSymbols,
  effectSymbols,
  imagemagick6Symbols,
  imagemagick7Symbols,
  imagemagickSymbols,
} from "./symbols.ts";

/** `ChannelType.AllChannels` in ImageMagick 6: without the alpha bit, blur skips alpha. */
const ALL_CHANNELS = 0x7ffffff;
/** `ImageLayerMethod.FlattenLayer`, the same in ImageMagick 6 and 7. */
const FLATTEN_LAYER = 14;
/** `ImageType.TrueColorType`, the same in ImageMagick 6 and 7. */
const TRUE_COLOR_TYPE = 6;

const monitorDefinition = {
  // MagickBooleanType (*)(const char *text, MagickOffsetType offset, MagickSizeType extent,
  //                       void *client_data). ImageMagick calls it for every row of every
  // pass (~1700 times for W1), so every argument is read as a plain number: pointer objects
  // and BigInts allocated on each call made watching cost 8% of an image's CPU.
  parameters: ["usize", "i64", "u64", "usize"],
  result: "u32",
} as const;

/** One progress monitor per cancellation flag, which means one per worker thread. */
const monitors = new Map<Int32Array, Deno.UnsafeCallback<typeof monitorDefinition>>();

/**
 * The progress monitor that stops an operation of a wand once its job is cancelled. It is
 * called on the thread running the operation, this worker's own, so it runs synchronously;
 * the job's id travels as the monitor's client data, and the flag holds the id of the job to
 * stop (see lib/image/cancel.ts). Returning false makes the operation give up.
 */
function progressMonitor(flag: Int32Array): Deno.PointerValue {
  let monitor = monitors.get(flag);
  if (!monitor) {
    monitor = new Deno.UnsafeCallback(
      monitorDefinition,
      (_text, _offset, _extent, job) => Atomics.load(flag, 0) === Number(job) ? 0 : 1,
    );
    monitors.set(flag, monitor);
  }
  return monitor.pointer;
}

/** Opens ImageMagick 6 or 7 from `path` and starts its wand API. */
export function openImageMagick(dialect: Dialect, path: string): MagickApi {
  const { symbols } = Deno.dlopen(path, {
    ...commonSymbols,
    ...imagemagickSymbols,
    ...effectSymbols,
  });
  symbols.MagickWandGenesis();
  const version = imagemagickVersionApi(dialect, path);
  return {
    dialect,
    c: symbols,
    // BlobToImage turns the wand's format into a "PNG:" prefix of the file name, which
    // disables sniffing.
    setReadFormat: (wand, coder, name, firstOnly) =>
      symbols.MagickSetFormat(wand, cString(coder)) !== 0 &&
      symbols.MagickSetFilename(wand, cString(`${name}${firstOnly ? "[0]" : ""}`)) !== 0,
    watch: (wand, cancel) => {
      // Job ids start at 1; a token below (never cancelled) unwatches the wand.
      const watched = cancel.job >= 1;
      const monitor = watched ? progressMonitor(cancel.flag) : null;
      const job = watched ? Deno.UnsafePointer.create(BigInt(cancel.job)) : null;
      // The wand's monitor is copied into each image it reads, and from an image into those an
      // operation makes of it: set on the wand alone, it never reached an image read unwatched
      // (a small source), and b,50 on it upscaled to 3000x3000 ran 15 s past its 503.
      symbols.MagickSetProgressMonitor(wand, monitor, job);
      if (symbols.MagickGetNumberImages(wand) > 0n) {
        symbols.MagickSetImageProgressMonitor(wand, monitor, job);
      }
      return true;
    },
    setDecodeSize: (wand, width, height) =>
      symbols.MagickSetOption(wand, cString("jpeg:size"), cString(`${width}x${height}`)) !== 0,
    ensureRgb: (wand) =>
      symbols.MagickGetImageColorspace(wand) !== dialect.cmyk ||
      symbols.MagickTransformImageColorspace(wand, dialect.rgb) !== 0,
    selectImage: (wand, index) => symbols.MagickSetIteratorIndex(wand, BigInt(index)) !== 0,
    hasAlpha: (wand) => symbols.MagickGetImageAlphaChannel(wand) !== 0,
    exportRows: (wand, y, count, map, out, span) =>
      symbols.MagickExportImagePixels(
        wand,
        ...pixelRegion(symbols, wand, y, count, map, out, span),
        cString(map),
        storageOf(dialect, out),
        out,
      ) !== 0,
    importRows: (wand, y, count, map, data, span) =>
      symbols.MagickImportImagePixels(
        wand,
        ...pixelRegion(symbols, wand, y, count, map, data, span),
        cString(map),
        storageOf(dialect, data),
        data,
      ) !== 0,
    ...version,
    setQuality: (wand, quality) =>
      symbols.MagickSetImageCompressionQuality(wand, BigInt(quality)) !== 0,
    setCoderOption: (wand, coder, key, value) =>
      symbols.MagickSetOption(wand, cString(`${coder}:${key}`), cString(value)) !== 0,
    keepTrueColor: (wand) => symbols.MagickSetType(wand, TRUE_COLOR_TYPE) !== 0,
    flatten: (wand) => symbols.MagickMergeImageLayers(wand, FLATTEN_LAYER),
    // MagickGetImageBlob writes the current image alone, whatever the format.
    writeBlob: (wand, length) => symbols.MagickGetImageBlob(wand, length),
  };
}

/**
 * Resize and blur, whose signatures changed between ImageMagick 6 and 7. They are bound
 * through a second handle (dlopen counts references, the library loads once) so each
 * signature set keeps its own precise type.
 */
function imagemagickVersionApi(
  dialect: Dialect,
  path: string,
): Pick<MagickApi, "resize" | "blur" | "takeImageException"> {
  if (dialect === imagemagick7) {
    const { symbols } = Deno.dlopen(path, imagemagick7Symbols);
    return {
      resize: (wand, width, height) =>
        symbols.MagickResizeImage(wand, BigInt(width), BigInt(height), dialect.lanczos) !== 0,
      // A radius of 0 lets the library size the kernel from sigma.
      blur: (wand, sigma) => symbols.MagickBlurImage(wand, 0, sigma) !== 0,
      // Version 7 decoders report to the wand.
      takeImageException: () => ({ severity: 0, message: "" }),
    };
  }
  const { symbols } = Deno.dlopen(path, imagemagick6Symbols);
  return {
    resize: (wand, width, height) =>
      symbols.MagickResizeImage(wand, BigInt(width), BigInt(height), dialect.lanczos, 1.0) !== 0,
    blur: (wand, sigma) => symbols.MagickBlurImageChannel(wand, ALL_CHANNELS, 0, sigma) !== 0,
    takeImageException: (wand) => {
      const image = symbols.GetImageFromMagickWand(wand);
      if (!image) return { severity: 0, message: "" };
      const exception = symbols.AcquireExceptionInfo();
      if (!exception) throw new Error(`${dialect.label} could not allocate an exception`);
      try {
        // Moves the image's exception into ours and clears it on the image.
        symbols.GetImageException(image, exception);
        return readExceptionInfo(exception);
      } finally {
        symbols.DestroyExceptionInfo(exception);
      }
    },
  };
}

/**
 * Reads an `ExceptionInfo` as ImageMagick 6 declares it in its public header: `severity`
 * (an enum) at offset 0, then `error_number`, then the `reason` string at offset 8.
 */
function readExceptionInfo(exception: Deno.PointerObject): WandException {
  const view = new Deno.UnsafePointerView(exception);
  const reason = view.getPointer(8);
  return {
    severity: view.getUint32(0),
    message: reason ? tidyMessage(Deno.UnsafePointerView.getCString(reason)) : "",
  };
}
