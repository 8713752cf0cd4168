import type { HeldSource } from "../cache/sources.ts";
import { HttpError, Unavailable } from "../errors.ts";
import { contentTypes } from "../image/formats.ts";
import { sniffEncoded } from "../image/sniff.ts";
import { plannedJobBytes, type Transform } from "../jobs/transform.ts";
import { type Job, parseJob } from "../jobs/url.ts";
import { WorkerFailure } from "../pool/pool.ts";
import type { Ticket } from "../pool/pool.ts";
import { checkSignature } from "./access.ts";
import { isNotModified } from "./conditional.ts";
import type { ServerDeps } from "./deps.ts";
import { type HeldWatermarks, loadWatermarks } from "./watermarks.ts";

/** An image response and how it was made, for the log and the metrics. */
export interface ImageAnswer {
  response: Response;
  job: Job;
  source: HeldSource;
  result: "hit" | "shared" | "miss" | "not-modified";
}

/**
 * The image route, in the order the data flows: parse the path → admit the request (a place
 * in the pool, before any read) → load the source → identify the result → answer 304, a
 * cached result, or the pool's → respond. All of it within `http.timeout`.
 *
 * @param rest the URL path after `http.root`, still percent-encoded
 * @throws {HttpError} for every failure; Unavailable (503) when time or room ran out
 */
export async function serveImage(
  request: Request,
  rest: string,
  id: string,
  deps: ServerDeps,
): Promise<ImageAnswer> {
  const job = await deps.memo.job(
    rest,
    async () => parseJob(await checkSignature(rest, deps.config.security), deps.parseContext),
  );
  const accept = request.headers.get("accept");
  const ticket = deps.admissions.admit(`${rest}\0${accept}`);
  const deadline = deps.deadlines.start(deps.config.http.timeoutMs);
  const giveUpAt = Date.now() + deps.config.http.timeoutMs;
  let source: HeldSource | undefined;
  let marks: HeldWatermarks | undefined;
  try {
    source = await deps.sources.load(job.storage, job.path, deadline.signal);
    marks = await loadWatermarks(job, deps.sources, deadline.signal);
    // The watermarks' validators join the source's: replacing one changes the result.
    const validator = [source.validator, ...marks.validators].join("\n");
    const { task, key } = deps.memo.identify(rest, job, accept, validator);
    const etag = `"${key}"`;
    const modified = source.modified && lastModified(source, deps);
    const headers: [string, string][] = [
      ["etag", etag],
      ["cache-control", deps.config.http.cacheControl],
      ["x-request-id", id],
    ];
    if (job.format.type === "auto") headers.push(["vary", "Accept"]);
    if (modified) headers.push(["last-modified", modified.toUTCString()]);
    if (isNotModified(request, etag, modified)) {
      const response = new Response(null, { status: 304, headers });
      return { response, job, source, result: "not-modified" };
    }
    const cached = await deps.results.get(key, deadline.signal);
    // The deadline travels with the job, for backends whose library can stop itself then.
    const timed = { ...task, deadline: giveUpAt };
    const output = cached?.bytes ??
      await transform(key, marks.withImages(timed), source, ticket, deadline.signal, deps);
    const result = cached ? (cached.tier === "shared" ? "shared" : "hit") : "miss";
    headers.push(
      // `auto` decides the format in the worker; the bytes say which it chose.
      ["content-type", contentTypes[sniffEncoded(output)!]],
      ["content-length", String(output.byteLength)],
      ["x-cache", result],
    );
    return { response: new Response(output, { headers }), job, source, result };
  } catch (error) {
    // A read or a job cut short by the deadline fails with its own error; the cause is time.
    if (deadline.signal.aborted && !(error instanceof HttpError)) {
      throw new Unavailable("The request timed out: try again shortly");
    }
    throw error;
  } finally {
    deadline.end();
    ticket.release();
    source?.release();
    marks?.release();
  }
}

/** The last change of what the result depends on: its source, or the config, if later. */
function lastModified(source: HeldSource, deps: ServerDeps): Date {
  return source.modified! > deps.loadedAt ? source.modified! : deps.loadedAt;
}

/**
 * Makes a result in the pool, once for all concurrent requests for it: the first caller's
 * place runs the job, under the shared call's own signal, so a caller that gives up does not
 * stop it for the others. A result whose bytes are not an image we know is a 500 and is
 * never cached.
 */
async function transform(
  key: string,
  task: Transform,
  source: HeldSource,
  ticket: Ticket,
  signal: AbortSignal,
  deps: ServerDeps,
): Promise<Uint8Array<ArrayBuffer>> {
  const { result } = deps.flights.join(key, signal, async (shared) => {
    const planned = plannedJobBytes(task, source.bytes, deps.config.backend);
    const bytes = await deps.jobBudget.run(
      planned,
      () => ticket.run(task, source.bytes, shared),
    );
    if (bytes.byteLength === 0 || !sniffEncoded(bytes)) {
      throw new WorkerFailure(`the encoder returned ${bytes.byteLength} unrecognised bytes`);
    }
    await deps.results.set(key, bytes);
    return bytes;
  });
  return await result;
}
