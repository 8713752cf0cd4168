// The workloads' sources, made the same way everywhere: the example photo, resampled.
import sharp from "sharp";

/** A photo (the example, resampled) of this size, as a q90 JPEG. */
export async function photoOf(width: number, height: number): Promise<Uint8Array> {
  const photo = await Deno.readFile(new URL("../examples/photo.jpg", import.meta.url));
  const resized = sharp(photo).resize(width, height, { fit: "fill" });
  return new Uint8Array(await resized.jpeg({ quality: 90 }).toBuffer());
}

/** W1's source: 4096x4096. */
export function w1Source(): Promise<Uint8Array> {
  return photoOf(4096, 4096);
}
