import type { SecurityConfig } from "../config/config.ts";
import { Forbidden } from "../errors.ts";
import { verifyPath } from "../jobs/signature.ts";
import { type Job, parseJob } from "../jobs/url.ts";
import type { FlowDeps } from "./deps.ts";

/**
 * The job a URL path asks for: from the memo when the path was seen under this config,
 * else signature-checked and parsed (and remembered).
 *
 * @param rest the URL path after `http.root`, still percent-encoded
 * @throws {Forbidden} for a bad signature
 * @throws {BadRequest} naming the token that is wrong
 */
export function parseRequest(rest: string, deps: FlowDeps): Promise<Job> {
  return deps.memo.job(
    rest,
    async () => parseJob(await checkSignature(rest, deps.config.security), deps.parseContext),
  );
}

/**
 * Checks the signature segment at the start of `rest` (the path after the root) when keys
 * are configured, and answers the path that follows it. Without keys, `rest` is unchanged.
 *
 * @throws {Forbidden} with no detail about what was wrong
 */
async function checkSignature(rest: string, security: SecurityConfig): Promise<string> {
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
