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
