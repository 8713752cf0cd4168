/** An 8-bit RGBA image with straight (not premultiplied) alpha, rows top to bottom. */
export interface Bitmap {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A width and a height in pixels. */
export interface Size {
  width: number;
  height: number;
}

/** A rectangle in pixels; x and y are the top-left corner. */
export interface Rect extends Size {
  x: number;
  y: number;
}

/** Allocates a transparent black bitmap. */
export function createBitmap(width: number, height: number): Bitmap {
  return { width, height, data: new Uint8Array(width * height * 4) };
}

/** Whether any pixel of RGBA `data` (one frame or several) is less than opaque. */
export function hasTransparency({ data }: Pick<Bitmap, "data">): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return true;
  return false;
}

/** `size` shrunk to fit a square of `maxSide` (aspect kept, sides rounded, at least 1). */
export function fitWithin(size: Size, maxSide: number): Size {
  const scale = maxSide / Math.max(size.width, size.height);
  if (scale >= 1) return { width: size.width, height: size.height };
  const side = (value: number) => Math.max(1, Math.round(value * scale));
  return { width: side(size.width), height: side(size.height) };
}
