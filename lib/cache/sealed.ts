import { createHash } from "node:crypto";

/** Bytes before the content: its length (uint32, big-endian), then its SHA-256. */
export const SEAL_BYTES = 4 + 32;

/** The largest content a seal can describe (its length field is 32 bits). */
export const MAX_SEALED_CONTENT = 2 ** 32 - 1;

/**
 * The content with its length and checksum in front, as the result tiers store it on disk and
 * in the shared store, so a truncated, damaged or foreign file is recognised and never served.
 *
 * @throws {RangeError} for content over {@linkcode MAX_SEALED_CONTENT} bytes
 */
export function seal(content: Uint8Array): Uint8Array<ArrayBuffer> {
  if (content.byteLength > MAX_SEALED_CONTENT) {
    throw new RangeError(`Cannot seal ${content.byteLength} bytes: at most ${MAX_SEALED_CONTENT}`);
  }
  const file = new Uint8Array(SEAL_BYTES + content.byteLength);
  new DataView(file.buffer).setUint32(0, content.byteLength);
  file.set(digest(content), 4);
  file.set(content, SEAL_BYTES);
  return file;
}

/** The content of a sealed file, or undefined when its length or checksum does not match. */
export function unseal(file: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> | undefined {
  if (file.byteLength < SEAL_BYTES) return undefined;
  const length = new DataView(file.buffer, file.byteOffset).getUint32(0);
  const content = file.subarray(SEAL_BYTES);
  if (content.byteLength !== length) return undefined;
  if (!digest(content).equals(file.subarray(4, SEAL_BYTES))) return undefined;
  return content;
}

function digest(bytes: Uint8Array) {
  return createHash("sha256").update(bytes).digest();
}
