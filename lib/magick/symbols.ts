/**
 * The C functions we call, as `Deno.dlopen` definitions. `commonSymbols` have the same name
 * and ABI in ImageMagick 6, ImageMagick 7 and GraphicsMagick; the other tables hold what one
 * family names or shapes differently. Booleans are C `unsigned int` (MagickBooleanType in
 * ImageMagick, MagickPassFail in GraphicsMagick): 0 is failure in both. Functions whose
 * result we never read are declared `void`, which is ABI-safe whatever they return.
 */
export const commonSymbols = {
  NewMagickWand: { parameters: [], result: "pointer" },
  DestroyMagickWand: { parameters: ["pointer"], result: "void" },
  CloneMagickWand: { parameters: ["pointer"], result: "pointer" },
  MagickGetException: { parameters: ["pointer", "buffer"], result: "pointer" },
  MagickClearException: { parameters: ["pointer"], result: "void" },
  MagickRelinquishMemory: { parameters: ["pointer"], result: "void" },
  MagickSetResourceLimit: { parameters: ["u32", "u64"], result: "u32" },
  // ImageMagick only: reads back a limit its policy.xml may have lowered below ours.
  MagickGetResourceLimit: { parameters: ["u32"], result: "u64", optional: true },
  MagickSetFormat: { parameters: ["pointer", "buffer"], result: "u32" },
  MagickSetFilename: { parameters: ["pointer", "buffer"], result: "u32" },
  MagickGetImageFilename: { parameters: ["pointer"], result: "pointer" },
  MagickSetImageFilename: { parameters: ["pointer", "buffer"], result: "u32" },
  MagickReadImageBlob: { parameters: ["pointer", "buffer", "usize"], result: "u32" },
  MagickGetNumberImages: { parameters: ["pointer"], result: "usize" },
  MagickGetImage: { parameters: ["pointer"], result: "pointer" },
  MagickGetImageWidth: { parameters: ["pointer"], result: "usize" },
  MagickGetImageDelay: { parameters: ["pointer"], result: "usize" },
  MagickGetImageIterations: { parameters: ["pointer"], result: "usize" },
  MagickGetImageHeight: { parameters: ["pointer"], result: "usize" },
  MagickGetImageColorspace: { parameters: ["pointer"], result: "u32" },
  MagickSetImagePage: {
    parameters: ["pointer", "usize", "usize", "isize", "isize"],
    result: "u32",
  },
  MagickCropImage: { parameters: ["pointer", "usize", "usize", "isize", "isize"], result: "u32" },
  MagickFlipImage: { parameters: ["pointer"], result: "u32" },
  MagickSetInterlaceScheme: { parameters: ["pointer", "u32"], result: "u32" },
  MagickFlopImage: { parameters: ["pointer"], result: "u32" },
  MagickRotateImage: { parameters: ["pointer", "pointer", "f64"], result: "u32" },
  NewPixelWand: { parameters: [], result: "pointer" },
  DestroyPixelWand: { parameters: ["pointer"], result: "void" },
  PixelSetColor: { parameters: ["pointer", "buffer"], result: "u32" },
  MagickSetImageBackgroundColor: { parameters: ["pointer", "pointer"], result: "u32" },
  MagickSetImageDepth: { parameters: ["pointer", "usize"], result: "u32" },
  MagickSetImageFormat: { parameters: ["pointer", "buffer"], result: "u32" },
  MagickSetSamplingFactors: { parameters: ["pointer", "usize", "buffer"], result: "u32" },
  MagickStripImage: { parameters: ["pointer"], result: "u32" },
  MagickCoalesceImages: { parameters: ["pointer"], result: "pointer" },
} as const;

/** Pixel export and import: one signature, two names per family. */
const pixels = ["pointer", "isize", "isize", "usize", "usize", "buffer", "u32", "buffer"] as const;

/** ImageMagick 6 and 7. */
export const imagemagickSymbols = {
  MagickWandGenesis: { parameters: [], result: "void" },
  MagickSetProgressMonitor: { parameters: ["pointer", "function", "pointer"], result: "pointer" },
  MagickSetImageProgressMonitor: {
    parameters: ["pointer", "function", "pointer"],
    result: "pointer",
  },
  MagickSetOption: { parameters: ["pointer", "buffer", "buffer"], result: "u32" },
  MagickSetIteratorIndex: { parameters: ["pointer", "isize"], result: "u32" },
  MagickSetType: { parameters: ["pointer", "u32"], result: "u32" },
  MagickGetImageAlphaChannel: { parameters: ["pointer"], result: "u32" },
  MagickTransformImageColorspace: { parameters: ["pointer", "u32"], result: "u32" },
  MagickExportImagePixels: { parameters: pixels, result: "u32" },
  MagickImportImagePixels: { parameters: pixels, result: "u32" },
  MagickSetImageCompressionQuality: { parameters: ["pointer", "usize"], result: "u32" },
  MagickMergeImageLayers: { parameters: ["pointer", "u32"], result: "pointer" },
  MagickGetImageBlob: { parameters: ["pointer", "buffer"], result: "pointer" },
} as const;

/**
 * ImageMagick 6: resize takes a blur factor; blur takes a channel mask; decoders leave their
 * warnings (and some errors) on the image rather than the wand, so MagickCore reads them.
 */
export const imagemagick6Symbols = {
  GetImageFromMagickWand: { parameters: ["pointer"], result: "pointer" },
  AcquireExceptionInfo: { parameters: [], result: "pointer" },
  GetImageException: { parameters: ["pointer", "pointer"], result: "void" },
  DestroyExceptionInfo: { parameters: ["pointer"], result: "void" },
  MagickResizeImage: {
    parameters: ["pointer", "usize", "usize", "u32", "f64"],
    result: "u32",
  },
  MagickBlurImageChannel: { parameters: ["pointer", "u32", "f64", "f64"], result: "u32" },
} as const;

/** ImageMagick 7: no blur factor; channels come from the image's pixel traits. */
export const imagemagick7Symbols = {
  MagickResizeImage: { parameters: ["pointer", "usize", "usize", "u32"], result: "u32" },
  MagickBlurImage: { parameters: ["pointer", "f64", "f64"], result: "u32" },
} as const;

/** GraphicsMagick: its own names for the same jobs, and no MagickWandGenesis. */
export const graphicsmagickSymbols = {
  InitializeMagickEx: { parameters: ["pointer", "u32", "pointer"], result: "u32" },
  MagickSetImageOption: {
    parameters: ["pointer", "buffer", "buffer", "buffer"],
    result: "u32",
  },
  MagickSetSize: { parameters: ["pointer", "usize", "usize"], result: "u32" },
  MagickSetImageIndex: { parameters: ["pointer", "isize"], result: "u32" },
  MagickGetImageMatte: { parameters: ["pointer"], result: "u32" },
  MagickSetImageColorspace: { parameters: ["pointer", "u32"], result: "u32" },
  MagickGetImagePixels: { parameters: pixels, result: "u32" },
  MagickSetImagePixels: { parameters: pixels, result: "u32" },
  MagickSetCompressionQuality: { parameters: ["pointer", "usize"], result: "u32" },
  MagickFlattenImages: { parameters: ["pointer"], result: "pointer" },
  MagickReadImage: { parameters: ["pointer", "buffer"], result: "u32" },
  MagickCompositeImage: {
    parameters: ["pointer", "pointer", "u32", "isize", "isize"],
    result: "u32",
  },
  MagickWriteImageBlob: { parameters: ["pointer", "buffer"], result: "pointer" },
  MagickResizeImage: {
    parameters: ["pointer", "usize", "usize", "u32", "f64"],
    result: "u32",
  },
  MagickBlurImage: { parameters: ["pointer", "f64", "f64"], result: "u32" },
} as const;

/**
 * Effects with the same name and ABI in ImageMagick 6 and GraphicsMagick, bound beside
 * `commonSymbols`: unsharp mask (radius, sigma, amount, threshold), extent (width, height and
 * an offset whose sign the libraries read differently), and the alpha switch.
 */
export const effectSymbols = {
  MagickUnsharpMaskImage: { parameters: ["pointer", "f64", "f64", "f64", "f64"], result: "u32" },
  MagickExtentImage: {
    parameters: ["pointer", "usize", "usize", "isize", "isize"],
    result: "u32",
  },
  MagickSetImageMatte: { parameters: ["pointer", "u32"], result: "u32" },
} as const;
