/**
 * imgproxy-compatible URL signatures: base64url (no padding) of HMAC-SHA256(key, salt ‖ path).
 */

/** One key and salt pair, decoded from hex. */
export interface SigningKey {
  readonly key: Uint8Array;
  readonly salt: Uint8Array;
}

/** Unpadded base64url of a 32-byte HMAC-SHA256 digest. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
const base64url = { alphabet: "base64url", omitPadding: true } as const;

const encoder = new TextEncoder();
const cryptoKeys = new WeakMap<SigningKey, Promise<CryptoKey>>();

/**
 * Decodes a hex key and salt. The messages never echo the values, as they are secrets.
 *
 * @throws {Error} when either is empty or not hex
 * @example
 * ```ts
 * const key = parseSigningKey("736563726574", "68656c6c6f"); // key "secret", salt "hello"
 * ```
 */
export function parseSigningKey(keyHex: string, saltHex: string): SigningKey {
  return { key: fromHex(keyHex, "key"), salt: fromHex(saltHex, "salt") };
}

/**
 * Signs `path`, everything after the signature segment, starting with "/".
 *
 * @example
 * ```ts
 * const key = parseSigningKey("736563726574", "68656c6c6f");
 * await signPath(key, "/rs:fill:300:400:0/g:sm/aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/cy9jdXJpb3NpdHku/anBn.png");
 * // "oKfUtW34Dvo2BGQehJFR4Nr0_rIjOtdtzJ3QFsUcXH8"
 * ```
 */
export async function signPath(key: SigningKey, path: string): Promise<string> {
  return (await digest(key, path)).toBase64(base64url);
}

/**
 * Whether `signature` signs `path` under any of `keys`. Every key is checked and every byte
 * compared, so the time taken does not depend on how much of the signature is right.
 * Only the one canonical spelling is accepted (unpadded, base64url alphabet, unused low bits of
 * the last character zero), so a signed URL has exactly one form; anything else is false.
 *
 * @example
 * ```ts
 * const key = parseSigningKey("736563726574", "68656c6c6f");
 * const path = "/gs/png/local/a.jpg";
 * await verifyPath([key], await signPath(key, path), path); // true
 * ```
 */
export async function verifyPath(
  keys: readonly SigningKey[],
  signature: string,
  path: string,
): Promise<boolean> {
  if (!SIGNATURE.test(signature)) return false;
  const given = Uint8Array.fromBase64(signature, base64url);
  // The decoder ignores the last character's 2 spare bits: 4 spellings would decode alike.
  if (given.toBase64(base64url) !== signature) return false;
  const expected = await Promise.all(keys.map((key) => digest(key, path)));
  return expected.reduce((match, bytes) => match | Number(equalBytes(bytes, given)), 0) === 1;
}

function fromHex(text: string, what: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text)) {
    throw new Error(`Signing ${what} must be a non-empty, even-length string of hex digits`);
  }
  return Uint8Array.fromHex(text);
}

async function digest(key: SigningKey, path: string): Promise<Uint8Array> {
  const message = new Uint8Array([...key.salt, ...encoder.encode(path)]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", await cryptoKey(key), message));
}

function cryptoKey(key: SigningKey): Promise<CryptoKey> {
  let imported = cryptoKeys.get(key);
  if (imported === undefined) {
    const raw = new Uint8Array(key.key); // a copy backed by a plain ArrayBuffer, as Web Crypto wants
    const algorithm = { name: "HMAC", hash: "SHA-256" };
    imported = crypto.subtle.importKey("raw", raw, algorithm, false, ["sign"]);
    cryptoKeys.set(key, imported);
  }
  return imported;
}

/** Constant-time equality of two byte arrays of the same, public length. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
