import { createHash, timingSafeEqual } from "node:crypto";
import { Forbidden, Unauthorized } from "../errors.ts";
import type { SecurityConfig } from "../config/config.ts";
import { verifyPath } from "../jobs/signature.ts";

/**
 * Checks `Authorization: Bearer TOKEN` when a token is configured, in constant time.
 *
 * @throws {Unauthorized} when it is missing or wrong
 */
export function checkToken(request: Request, token: string | undefined): void {
  if (token === undefined) return;
  const given = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
  // Hashing first gives equal lengths, which timingSafeEqual needs.
  const hash = (text: string) => createHash("sha256").update(text).digest();
  if (!timingSafeEqual(hash(given), hash(token))) {
    throw new Unauthorized("A valid bearer token is required");
  }
}

/**
 * Checks the signature segment at the start of `rest` (the path after the root) when keys
 * are configured, and answers the path that follows it. Without keys, `rest` is unchanged.
 *
 * @throws {Forbidden} with no detail about what was wrong
 */
export async function checkSignature(rest: string, security: SecurityConfig): Promise<string> {
  if (security.keys.length === 0) return rest;
  const end = rest.indexOf("/", 1);
  const signature = end > 0 ? rest.slice(1, end) : "";
  const signed = end > 0 ? rest.slice(end) : "";
  const unsignedOk = security.allowUnsigned && signature === "_";
  if (!unsignedOk && !(await verifyPath(security.keys, signature, signed))) {
    throw new Forbidden("Invalid signature");
  }
  return signed;
}
