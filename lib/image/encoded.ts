import type { ResultType } from "./formats.ts";
import { sniffEncoded } from "./sniff.ts";

/**
 * Passes an encoder's output on only when it is an image of the type asked for: an empty or
 * unrecognised result is a bug or a failed codec, never something to serve (or cache).
 *
 * @throws {Error} (an internal error) when the bytes are empty or of another format
 */
export function checkEncoded<T extends Uint8Array>(
  bytes: T,
  type: ResultType | "auto",
): T {
  if (bytes.length === 0) throw new Error(`The ${type} encoder wrote no bytes`);
  const found = sniffEncoded(bytes);
  if (found !== type) {
    throw new Error(`The ${type} encoder wrote ${found ?? "unrecognised"} bytes`);
  }
  return bytes;
}
