/**
 * What differs between the wand libraries as data: where to find them and the values of the
 * C enums we pass. Values come from the libraries' own headers (ImageMagick 6.9.11, 7.1 and
 * GraphicsMagick 1.3.40); an enum value that is wrong fails silently, so each one is spelt
 * out here rather than derived.
 */
export interface Dialect {
  /** For messages: "ImageMagick 6", "GraphicsMagick". */
  readonly label: string;
  /** Shared-object names to try, in order of preference. */
  readonly sonames: readonly string[];
  /** The Debian package that provides the library. */
  readonly debianPackage: string;
  /** `FilterTypes.LanczosFilter`. */
  readonly lanczos: number;
  /** `StorageType.ShortPixel`: 16-bit samples, so Q16 images keep their precision. */
  readonly shortPixel: number;
  /** `StorageType.CharPixel`: 8-bit samples, what the shared resampler reads and writes. */
  readonly charPixel: number;
  /**
   * The import map that writes an opaque image's colours from RGBA samples without giving it
   * an alpha channel: ImageMagick turns alpha on for "A", so it skips that sample ("P");
   * GraphicsMagick ignores "A" on an image without matte, and its "P" is a slow path (2.1
   * against 0.36 ms for 512x400 pixels).
   */
  readonly opaqueRgbaMap: "RGBA" | "RGBP";
  /** `ColorspaceType`: the CMYK space a JPEG may decode into, and plain RGB to convert to. */
  readonly cmyk: number;
  readonly rgb: number;
  /** Whether its blur weights colour by alpha (premultiplied), or blurs each channel alone. */
  readonly blurWeightsAlpha: boolean;
  /**
   * JPEG 4:2:0 for `MagickSetSamplingFactors`: ImageMagick reads one factor per component
   * (used for both axes), GraphicsMagick reads horizontal and vertical pairs.
   */
  readonly sampling420: readonly number[];
  /**
   * What `MagickExtentImage`'s offset means: -1 where it is the new area's origin in the old
   * image (ImageMagick), 1 where it is the old image's place in the new one (GraphicsMagick).
   */
  /**
   * Whether an image's "iterations" count the first play: ImageMagick reads a GIF's loop
   * count n as n + 1 (0 stays "forever"), GraphicsMagick keeps n.
   */
  readonly iterationsCountFirstPlay: boolean;
  readonly extentOffsetSign: 1 | -1;
  /** `ResourceType` values. */
  readonly resources: Readonly<Record<Resource, number>>;
}

/** The resource limits we set, by the name ImageMagick gives them. */
export type Resource = "area" | "disk" | "map" | "memory" | "thread" | "width" | "height";

/** ImageMagick 6 (Debian 12 ships 6.9.11). */
export const imagemagick6: Dialect = {
  label: "ImageMagick 6",
  sonames: ["libMagickWand-6.Q16.so.6", "libMagickWand-6.Q16HDRI.so.6"],
  debianPackage: "libmagickwand-6.q16-6",
  lanczos: 22,
  shortPixel: 7,
  charPixel: 1,
  opaqueRgbaMap: "RGBP",
  cmyk: 12,
  rgb: 13, // sRGBColorspace; RGBColorspace (1) means linear RGB since 6.7.7
  blurWeightsAlpha: true,
  sampling420: [2, 1, 1],
  extentOffsetSign: -1,
  iterationsCountFirstPlay: true,
  resources: { area: 1, disk: 2, map: 4, memory: 5, thread: 6, width: 9, height: 10 },
};

/** ImageMagick 7.1 (soname 10); its enums were reordered alphabetically. */
export const imagemagick7: Dialect = {
  label: "ImageMagick 7",
  sonames: ["libMagickWand-7.Q16HDRI.so.10", "libMagickWand-7.Q16.so.10"],
  debianPackage: "libmagickwand-7.q16-10",
  lanczos: 22,
  shortPixel: 7,
  charPixel: 1,
  opaqueRgbaMap: "RGBP",
  cmyk: 2,
  rgb: 23,
  blurWeightsAlpha: true,
  sampling420: [2, 1, 1],
  extentOffsetSign: -1,
  iterationsCountFirstPlay: true,
  resources: { area: 1, disk: 2, height: 4, map: 5, memory: 6, thread: 7, width: 10 },
};

/** GraphicsMagick 1.3 (Debian 12 ships 1.3.40). */
export const graphicsmagick: Dialect = {
  label: "GraphicsMagick",
  sonames: ["libGraphicsMagickWand-Q16.so.2"],
  debianPackage: "libgraphicsmagick-q16-3",
  lanczos: 13,
  shortPixel: 1,
  charPixel: 0,
  opaqueRgbaMap: "RGBA",
  cmyk: 10,
  rgb: 1, // GraphicsMagick's RGBColorspace is the usual, gamma-encoded RGB
  blurWeightsAlpha: false,
  sampling420: [2, 2, 1, 1, 1, 1],
  extentOffsetSign: 1,
  iterationsCountFirstPlay: false,
  // "Pixels" is GraphicsMagick's per-image area limit; it has no separate area resource.
  resources: { area: 5, disk: 1, map: 3, memory: 4, thread: 6, width: 7, height: 8 },
};
