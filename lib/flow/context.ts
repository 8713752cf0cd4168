import type { HeldSource } from "../cache/sources.ts";
import { negotiate } from "../image/formats.ts";
import type { Job } from "../jobs/url.ts";
import type { Ticket } from "../pool/pool.ts";
import type { FlowDeps } from "./deps.ts";
import type { HeldWatermarks } from "./watermarks.ts";

/** What the HTTP face tells the flow about one image request. */
export interface ImageRequest {
  /** The URL path after `http.root`, still percent-encoded. */
  rest: string;
  /** The `Accept` header, which `auto` negotiates with. */
  accept: string | null;
  /** Aborts when the client goes away. */
  clientSignal: AbortSignal;
  /** Whether the client's copy with this ETag and date is current (a 304 then). */
  notModified(etag: string, modified?: Date): boolean;
}

/**
 * One image request on its way through the flow: what it asks for and everything it holds
 * (its place in the pool, its source, its watermarks, its deadline), so every step reads and
 * adds to one object and `end` gives it all back in one place.
 */
export class FlowContext {
  job?: Job;
  ticket?: Ticket;
  source?: HeldSource;
  marks?: HeldWatermarks;
  /** `Date.now()` when the request gives up, for backends that can stop themselves then. */
  readonly giveUpAt: number;
  #deadline?: { signal: AbortSignal; end(): void };
  #onClientGone?: () => void;

  constructor(readonly request: ImageRequest, readonly deps: FlowDeps) {
    this.giveUpAt = Date.now() + deps.config.http.timeoutMs;
  }

  /**
   * Aborts when the deadline (`http.timeout`) passes or the client goes away, whichever comes
   * first. Made on first use: a hit in memory never needs one.
   */
  get signal(): AbortSignal {
    if (!this.#deadline) {
      // One controller for both causes (AbortSignal.any costs a visible share of a hit). The
      // full timeout, not what is left of it: the deadlines keep one timer per distinct value,
      // and the little already spent is a parse or a lookup in memory.
      const controller = new AbortController();
      this.#deadline = this.deps.deadlines.start(this.deps.config.http.timeoutMs, controller);
      const { clientSignal } = this.request;
      if (clientSignal.aborted) controller.abort(clientSignal.reason);
      else {
        this.#onClientGone = () => controller.abort(clientSignal.reason);
        clientSignal.addEventListener("abort", this.#onClientGone, { once: true });
      }
    }
    return this.#deadline.signal;
  }

  /** True once the deadline passed (not when the client left). */
  get timedOut(): boolean {
    const signal = this.#deadline?.signal;
    return signal?.aborted === true && (signal.reason as Error)?.name === "TimeoutError";
  }

  /**
   * Identical requests in flight share a place in the pool: same path, and for `auto` the
   * same formats its `Accept` allows (browsers word theirs differently; other formats never
   * depend on it).
   */
  get admissionKey(): string {
    const { format } = this.job!;
    if (format.type !== "auto") return this.request.rest;
    const { autoAvif, autoJxl } = this.deps.config.image;
    const { webp, avif, jxl } = negotiate(format, this.request.accept, autoAvif, autoJxl);
    return `${this.request.rest}\0${webp}${avif}${jxl}`;
  }

  /** Gives back everything the request holds. */
  end(): void {
    this.#deadline?.end();
    if (this.#onClientGone) {
      this.request.clientSignal.removeEventListener("abort", this.#onClientGone);
    }
    this.ticket?.release();
    this.source?.release();
    this.marks?.release();
  }
}
