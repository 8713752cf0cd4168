import { Unavailable } from "../errors.ts";

/**
 * Bounds the source bytes that requests hold at once: read for them, or waiting with them
 * for a worker. A buffer shared by several requests (a cached source, a shared read) counts
 * once, for as long as anyone holds it.
 */
export class HeldBytes {
  readonly #holders = new Map<ArrayBufferLike, number>();
  #bytes = 0;

  constructor(readonly max: number) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Refuses a new read when the bound is already reached, before any byte is read.
   *
   * @throws {Unavailable} when no room is left
   */
  checkRoom(): void {
    if (this.#bytes >= this.max) throw full(this.max);
  }

  /**
   * Counts `bytes` that a read is about to allocate, before it does; `release` gives them back
   * once the read has ended (its bytes are then held as a buffer, or dropped).
   *
   * @throws {Unavailable} when they would pass the bound
   */
  reserve(bytes: number): { add(bytes: number): void; release(): void } {
    let reserved = 0;
    const add = (more: number) => {
      if (this.#bytes + more > this.max) throw full(this.max);
      this.#bytes += more;
      reserved += more;
    };
    add(bytes);
    return {
      add,
      release: () => {
        this.#bytes -= reserved;
        reserved = 0;
      },
    };
  }

  /**
   * Holds `buffer` until the returned release is called (once; later calls do nothing).
   *
   * @throws {Unavailable} when holding a buffer not yet held would pass the bound
   */
  hold(buffer: ArrayBufferLike): () => void {
    const holders = this.#holders.get(buffer) ?? 0;
    if (holders === 0) {
      if (this.#bytes + buffer.byteLength > this.max) throw full(this.max);
      this.#bytes += buffer.byteLength;
    }
    this.#holders.set(buffer, holders + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.#holders.get(buffer)! - 1;
      if (left > 0) {
        this.#holders.set(buffer, left);
        return;
      }
      this.#holders.delete(buffer);
      this.#bytes -= buffer.byteLength;
    };
  }
}

function full(max: number): Unavailable {
  return new Unavailable(`The server holds ${max} bytes of sources already: try again shortly`);
}
