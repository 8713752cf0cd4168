import { decodeAvif } from "../image/avif_decode.ts";
import { probeImage } from "../image/probe.ts";
import { Unprocessable } from "../errors.ts";

/**
 * An AVIF source as a PAM image (a tiny text header, then straight 8-bit RGBA), which both
 * libraries read without any delegate: GraphicsMagick has no AVIF coder, and ImageMagick's
 * goes through libheif, which applies rotations and crops that the other backends' decoder
 * (libavif) leaves alone. Decoded by libavif's WebAssembly build, after the header probe.
 *
 * @throws {Unprocessable} when the AVIF cannot be decoded
 */
export async function avifAsPam(bytes: Uint8Array): Promise<Uint8Array> {
  const probed = probeImage(bytes, "avif");
  let pixels: Uint8Array;
  try {
    pixels = (await decodeAvif(bytes, probed)).data;
  } catch (error) {
    throw new Unprocessable(`Cannot decode the avif source: ${(error as Error).message}`);
  }
  const header = new TextEncoder().encode(
    `P7\nWIDTH ${probed.width}\nHEIGHT ${probed.height}\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n`,
  );
  const pam = new Uint8Array(header.length + pixels.length);
  pam.set(header);
  pam.set(pixels, header.length);
  return pam;
}
