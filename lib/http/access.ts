import { createHash, timingSafeEqual } from "node:crypto";
import { Unauthorized } from "../errors.ts";

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
