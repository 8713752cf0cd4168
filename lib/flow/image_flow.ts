import type { KnownValidator } from "../cache/sources.ts";
import { ClientClosed, HttpError, isUpstreamFailure, TimedOut } from "../errors.ts";
import { possibleTypes } from "../image/formats.ts";
import { sniffEncoded } from "../image/sniff.ts";
import { plannedJobBytes, type Transform } from "../jobs/transform.ts";
import type { Job } from "../jobs/url.ts";
import { WorkerFailure } from "../pool/pool.ts";
import { FlowContext, type ImageRequest } from "./context.ts";
import type { FlowDeps } from "./deps.ts";
import { parseRequest } from "./parse.ts";
import { loadWatermarks, watermarksOf } from "./watermarks.ts";

/** Where an answer came from: a cache tier, the pool, or the client's own copy (304). */
export type ResultOrigin = "hit" | "shared" | "miss" | "not-modified";

/** What the flow answers for one image request; the HTTP face turns it into a response. */
export interface ImageOutcome {
  job: Job;
  /** The result's identity: its ETag (unquoted) and its key in every cache. */
  key: string;
  /** The last change of what the result depends on, when the storage dates its sources. */
  modified?: Date;
  /** The encoded image; absent for a 304. */
  bytes?: Uint8Array<ArrayBuffer>;
  result: ResultOrigin;
  /** Served because the storage failed, within its `staleIfError`. */
  stale: boolean;
  /** The source read for this request, when one was read. */
  source?: { storage: string; cache: "hit" | "miss"; bytes: number };
}

/** A result named for one validator of its sources. */
interface Identified {
  task: Transform;
  key: string;
  modified?: Date;
}

/**
 * The image flow, in order: parse (memo) → look the result up by the request → answer a 304
 * or a cached result, or, on a miss, admit → load → transform. A request answered before, whose
 * sources' validators are still within `revalidate`, costs no storage call and no place in the
 * pool. Everything runs within `http.timeout`, and stops when the client goes away.
 *
 * @throws {HttpError} for every failure: TimedOut (503) when time ran out, ClientClosed (499)
 *   when the client left, Unavailable (503) when room ran out
 */
export async function runImageFlow(request: ImageRequest, deps: FlowDeps): Promise<ImageOutcome> {
  const context = new FlowContext(request, deps);
  try {
    const job = context.job = await parseRequest(request.rest, deps);
    const answeredBefore = deps.memo.lastValidator(request.rest, job, request.accept) !== undefined;
    await recallSources(context, job);
    return await answerFresh(context, job) ?? await answerFromSources(context, job, answeredBefore);
  } catch (error) {
    throw causeOf(context, error);
  } finally {
    context.end();
  }
}

/** A failure's real cause: the client that left, or the time that ran out. */
function causeOf(context: FlowContext, error: unknown): unknown {
  if (context.request.clientSignal.aborted) return new ClientClosed();
  // A read or a job cut short by the deadline fails with its own error; the cause is time.
  if (context.timedOut && !(error instanceof HttpError)) return new TimedOut();
  return error;
}

/**
 * Step 0: sources this process has not confirmed may have been confirmed by its previous start
 * or another instance sharing the result tiers; their notes count as confirmations here.
 */
async function recallSources(context: FlowContext, job: Job): Promise<void> {
  const { sources } = context.deps;
  const pending = [job, ...watermarksOf(job)]
    .map(({ storage, path }) => sources.recall(storage, path, context.signal))
    .filter((recall) => recall !== undefined);
  if (pending.length > 0) await Promise.all(pending);
}

/**
 * Step 1: sources whose validators are still trusted name the result without a storage call;
 * a storage that failed to confirm the source moments ago is not asked again yet: the last
 * result is served stale at once.
 */
async function answerFresh(context: FlowContext, job: Job): Promise<ImageOutcome | undefined> {
  const known = knownValidator(context, job, "fresh");
  if (known) return await lookUp(context, job, identify(context, job, known), false);
  const failure = context.deps.sources.failure(job.storage, job.path);
  return failure && await answerStale(context, job, failure);
}

/**
 * Step 2: ask the storages, then answer from the caches or the pool. A request never answered
 * is likely a miss: its place in the pool comes before any read, so a full pool refuses it
 * having cost nothing. One answered before only revalidates (a `stat`, a conditional request)
 * and takes a place only if its result is gone.
 */
async function answerFromSources(
  context: FlowContext,
  job: Job,
  answeredBefore: boolean,
): Promise<ImageOutcome> {
  const { deps } = context;
  if (!answeredBefore) context.ticket = deps.admissions.admit(context.admissionKey);
  let known: KnownValidator;
  try {
    known = await loadSources(context, job);
  } catch (error) {
    const stale = await answerStale(context, job, error);
    if (stale) return stale;
    throw error;
  }
  const source = context.source!;
  const facts = { storage: source.storage, cache: source.cache, bytes: source.bytes.byteLength };
  const identified = identify(context, job, known);
  const cached = await lookUp(context, job, identified, false);
  if (cached) return { ...cached, source: facts };
  context.ticket ??= deps.admissions.admit(context.admissionKey);
  const bytes = await transform(context, identified);
  const { key, modified } = identified;
  return { job, key, modified, bytes, result: "miss", stale: false, source: facts };
}

/**
 * When the storage fails (refused, 5xx, timeout) or the deadline passes while asking it, the
 * last result for the request, if its sources were confirmed within `revalidate` +
 * `staleIfError`. Logged: an origin down is worth a line per answer it costs.
 */
async function answerStale(
  context: FlowContext,
  job: Job,
  error: unknown,
): Promise<ImageOutcome | undefined> {
  if ((!isUpstreamFailure(error) && !context.timedOut) || context.request.clientSignal.aborted) {
    return undefined;
  }
  const known = knownValidator(context, job, "stale");
  if (!known) return undefined;
  const answer = await lookUp(context, job, identify(context, job, known), true);
  if (answer) {
    const reason = (error as Error)?.message ?? String(error);
    context.deps.log.error(
      `stale result served for ${job.storage}:${job.path.slice(0, 200)}: ${reason}`,
    );
  }
  return answer;
}

/** The request's source and watermarks, held in the context; their joined validator. */
async function loadSources(context: FlowContext, job: Job): Promise<KnownValidator> {
  const { sources } = context.deps;
  const source = context.source = await sources.load(job.storage, job.path, context.signal);
  const marks = context.marks = await loadWatermarks(job, sources, context.signal);
  // The watermarks' validators join the source's: replacing one changes the result.
  return {
    validator: [source.validator, ...marks.validators].join("\n"),
    modified: source.modified,
  };
}

/** The joined validator of a job's sources as their storages confirmed them lately. */
function knownValidator(
  context: FlowContext,
  job: Job,
  within: "fresh" | "stale",
): KnownValidator | undefined {
  const { sources } = context.deps;
  const source = sources.confirmed(job.storage, job.path, within);
  if (!source) return undefined;
  const validators = [source.validator];
  for (const mark of watermarksOf(job)) {
    const confirmed = sources.confirmed(mark.storage, mark.path, within);
    if (!confirmed) return undefined;
    validators.push(confirmed.validator);
  }
  return { validator: validators.join("\n"), modified: source.modified };
}

function identify(context: FlowContext, job: Job, known: KnownValidator): Identified {
  const { rest, accept } = context.request;
  const { task, key } = context.deps.memo.identify(rest, job, accept, known.validator);
  // Results can change when the config does (presets, settings): the later date counts. A
  // source dated in the future (a clock ahead, a touched file) has no date to tell: HTTP
  // allows none after the answer's own, and one would make `If-Modified-Since` prove nothing.
  const { loadedAt } = context.deps;
  const source = known.modified && known.modified.getTime() <= Date.now()
    ? known.modified
    : undefined;
  const modified = source && (source > loadedAt ? source : loadedAt);
  return { task, key, modified };
}

/** A 304 for the client's current copy, or the result from the nearest cache tier holding it. */
async function lookUp(
  context: FlowContext,
  job: Job,
  { task, key, modified }: Identified,
  stale: boolean,
): Promise<ImageOutcome | undefined> {
  if (context.request.notModified(key, modified)) {
    return { job, key, modified, result: "not-modified", stale };
  }
  // Only an image of a type this request's format allows is served from a cache.
  const allowed = possibleTypes(task.format);
  const cached = await context.deps.results.get(key, allowed, context.signal);
  if (!cached) return undefined;
  const result = cached.tier === "shared" ? "shared" : "hit";
  return { job, key, modified, bytes: cached.bytes, result, stale };
}

/**
 * Makes a result in the pool, once for all concurrent requests for it: the first caller's
 * place runs the job, under the shared call's own signal, so a caller that gives up (its
 * deadline, or its client gone) does not stop it for the others; the last one to leave does.
 * A result whose bytes are not an image we know is a 500 and is never cached.
 */
async function transform(
  context: FlowContext,
  { task, key }: Identified,
): Promise<Uint8Array<ArrayBuffer>> {
  const { deps, ticket, source, marks } = context;
  // The deadline travels with the job, for backends whose library can stop itself then.
  const timed = marks!.withImages({ ...task, deadline: context.giveUpAt });
  const { result } = deps.flights.join(key, context.signal, async (shared) => {
    const planned = plannedJobBytes(timed, source!.bytes, deps.config.backend);
    const bytes = await deps.jobBudget.run(
      planned,
      () => ticket!.run(timed, source!.bytes, shared),
    );
    if (bytes.byteLength === 0 || !sniffEncoded(bytes)) {
      throw new WorkerFailure(`the encoder returned ${bytes.byteLength} unrecognised bytes`);
    }
    await deps.results.set(key, bytes);
    return bytes;
  });
  return await result;
}
