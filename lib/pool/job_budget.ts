import { Unavailable } from "../errors.ts";

/**
 * Bounds the memory the jobs handed to the pool plan to use at once (`image.maxInflightJobBytes`),
 * as `HeldBytes` bounds the source bytes requests hold: each job reserves its planned peak
 * (`Plan.bytes`) before it is handed over and gives it back once the pool answers. A job that
 * would pass the bound is refused with a 503 before any work, so concurrent large jobs cannot
 * together take more memory than the machine has, while each alone stays within
 * `image.maxJobBytes`.
 */
export class JobBudget {
  #bytes = 0;

  constructor(readonly max: number) {}

  /** Planned bytes of the jobs in the pool now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Runs `job` with `bytes` reserved for as long as it runs.
   *
   * @throws {Unavailable} when they would pass the bound (and `job` is not started)
   */
  async run<T>(bytes: number, job: () => Promise<T>): Promise<T> {
    if (this.#bytes + bytes > this.max) {
      throw new Unavailable(
        `The server's jobs plan to use ${this.#bytes} of its ${this.max} bytes already (image.maxInflightJobBytes): try again shortly`,
      );
    }
    this.#bytes += bytes;
    try {
      return await job();
    } finally {
      this.#bytes -= bytes;
    }
  }
}
