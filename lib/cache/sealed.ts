import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** Bytes before the content: its length (uint32, big-endian), then its 32-byte digest. */
export const SEAL_BYTES = 4 + 32;

/** The largest content a seal can describe (its length field is 32 bits). */
export const MAX_SEALED_CONTENT = 2 ** 32 - 1;

/**
 * Seals results as the result tiers store them on disk and in the shared store: the content
 * with its length and a digest of the key and the content in front, so a truncated, damaged or
 * foreign file, or one copied under another key, is recognised and never served.
 *
 * With a secret (`caches.secret`) the digest is an HMAC-SHA256: whoever can write the directory
 * or the store but does not know the secret cannot make a file that passes. Without one it is a
 * plain SHA-256, which catches damage and mix-ups but which anyone can compute.
 */
export class Sealer {
  readonly #secret?: string;

  constructor(secret?: string) {
    this.#secret = secret;
  }

  /** Whether seals are keyed (a secret is set). */
  get keyed(): boolean {
    return this.#secret !== undefined;
  }

  /**
   * The sealed file of `content` stored under `key`.
   *
   * @throws {RangeError} for content over {@linkcode MAX_SEALED_CONTENT} bytes
   */
  seal(key: string, content: Uint8Array): Uint8Array<ArrayBuffer> {
    if (content.byteLength > MAX_SEALED_CONTENT) {
      throw new RangeError(
        `Cannot seal ${content.byteLength} bytes: at most ${MAX_SEALED_CONTENT}`,
      );
    }
    const file = new Uint8Array(SEAL_BYTES + content.byteLength);
    new DataView(file.buffer).setUint32(0, content.byteLength);
    file.set(this.#digest(key, content), 4);
    file.set(content, SEAL_BYTES);
    return file;
  }

  /**
   * The content of a file sealed under `key`, or undefined when its length or digest does not
   * match (damaged, foreign, another key's, or sealed without this secret).
   */
  unseal(key: string, file: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> | undefined {
    if (file.byteLength < SEAL_BYTES) return undefined;
    const length = new DataView(file.buffer, file.byteOffset).getUint32(0);
    const content = file.subarray(SEAL_BYTES);
    if (content.byteLength !== length) return undefined;
    if (!timingSafeEqual(this.#digest(key, content), file.subarray(4, SEAL_BYTES))) {
      return undefined;
    }
    return content;
  }

  #digest(key: string, content: Uint8Array): Uint8Array {
    const hash = this.#secret === undefined
      ? createHash("sha256")
      : createHmac("sha256", this.#secret);
    // The key's length first, so no other split of the same bytes gives the same digest.
    return hash.update(`${key.length}:${key}`).update(content).digest();
  }
}
