import type sharp from "sharp";
import type { Metadata, Sharp } from "sharp";
import { BadRequest, TimedOut, Unavailable, Unprocessable } from "../errors.ts";
import type { SourceFormat } from "../image/formats.ts";

/** The sharp module, loaded once per worker by the backend. */
export type SharpModule = typeof sharp;
export type Pipeline = Sharp;

/** Decoded pixels in JavaScript memory: sRGB, 8 bits per sample, frames stacked top to bottom. */
export interface Pixels {
  data: Uint8Array;
  width: number;
  /** The height of one frame. */
  height: number;
  /** RGB or RGBA: every pipeline ends in sRGB. */
  channels: 3 | 4;
  frames: number;
}

/** What a pipeline reads: the source's bytes, decoded there, or the pixels of a previous step. */
export type Input =
  | { kind: "source"; bytes: Uint8Array; format: SourceFormat; animated: boolean }
  | { kind: "pixels"; pixels: Pixels };

/** Adds one or more operations to a pipeline. */
export type Build = (pipeline: Pipeline) => Pipeline;

/** Pipelines start at most this many seconds ahead: sharp's own upper bound for `timeout`. */
const MAX_TIMEOUT_SECONDS = 3600;

/**
 * Opens and runs sharp pipelines under the backend's limits and a job's deadline, and turns
 * sharp's plain errors into typed ones.
 */
export class Engine {
  constructor(readonly sharp: SharpModule, readonly maxSourcePixels: number) {}

  /**
   * A pipeline reading `input`. libvips itself stops it at `deadline` (whole seconds, rounded
   * up), so a job that ran out of time stops using CPU even when nobody waits for it.
   *
   * @throws {Unavailable} when the deadline has passed already
   */
  open(input: Input, deadline?: number): Pipeline {
    const pipeline = input.kind === "source"
      ? this.sharp(input.bytes, {
        // A truncated or damaged file is refused, not served half grey.
        failOn: "error",
        limitInputPixels: this.maxSourcePixels,
        animated: input.animated,
        // Orientation is the chain's business (its first steps), never the decoder's.
        autoOrient: false,
      })
      : this.sharp(input.pixels.data, {
        raw: {
          width: input.pixels.width,
          height: input.pixels.height * input.pixels.frames,
          channels: input.pixels.channels,
          ...(input.pixels.frames > 1 ? { pageHeight: input.pixels.height } : {}),
        },
        // Our own intermediate, already within the planned output limits.
        limitInputPixels: false,
      });
    if (deadline === undefined) return pipeline;
    const left = deadline - Date.now();
    if (left <= 0) throw new TimedOut();
    return pipeline.timeout({ seconds: Math.min(MAX_TIMEOUT_SECONDS, Math.ceil(left / 1000)) });
  }

  /**
   * Runs `build` on `input` and answers the pixels. The frames of an animation that is already
   * pixels go one at a time: sharp would treat the stacked frames as one tall image for flips,
   * rotations and blurs.
   */
  async pixels(input: Input, build: Build, deadline?: number): Promise<Pixels> {
    if (input.kind === "pixels" && input.pixels.frames > 1) {
      const frames: Pixels[] = [];
      for (const frame of splitFrames(input.pixels)) {
        frames.push(await this.pixels({ kind: "pixels", pixels: frame }, build, deadline));
      }
      return stackFrames(frames);
    }
    const output = await this.#guard(
      input,
      () =>
        build(this.open(input, deadline)).raw({ depth: "uchar" }).toBuffer({
          resolveWithObject: true,
        }),
    );
    const { width, height, channels } = output.info;
    // A TIFF can carry bands past its colour and alpha (gray with two extra samples came out
    // as 5 channels, which no later pipeline reads): refused, as the other backends do.
    if (channels !== 3 && channels !== 4) {
      const reason = `the image decodes to ${channels} channels, not RGB or RGBA`;
      if (input.kind === "source") {
        throw new Unprocessable(`Cannot decode the ${input.format} source: ${reason}`);
      }
      throw new Error(reason);
    }
    // Only an animation's own pipeline keeps frames stacked; elsewhere sharp may report the
    // page height it read, whatever the operations did to the size since.
    const stacked = input.kind === "source" && input.animated;
    const pageHeight = stacked ? output.info.pageHeight ?? height : height;
    return {
      data: output.data,
      width,
      height: pageHeight,
      channels: channels as 3 | 4,
      frames: height / pageHeight,
    };
  }

  /** What the source's header says (size, frames, delays), read by libvips. */
  metadata(input: Input & { kind: "source" }): Promise<Metadata> {
    return this.#guard(input, () => this.open(input).metadata());
  }

  /** Runs `build`, which ends with an encoder, on `input` and answers a copy of the file. */
  async encoded(input: Input, build: Build, deadline?: number): Promise<Uint8Array<ArrayBuffer>> {
    const output = await this.#guard(input, () => build(this.open(input, deadline)).toBuffer());
    // A copy in memory of its own, so the worker can transfer it without taking sharp's along.
    return new Uint8Array(output);
  }

  /**
   * Maps sharp's errors: time is a 503, a format's size limit a 400, anything wrong while the
   * source is read a 422; the rest are internal failures (500) with their detail logged.
   */
  async #guard<T>(input: Input, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      if (error instanceof Unavailable || /^timeout:/.test(message)) throw new TimedOut();
      if (/too large for the \w+ format/i.test(message)) {
        throw new BadRequest(`The result cannot be encoded: ${firstLine(message)}`);
      }
      if (input.kind === "source") {
        throw new Unprocessable(`Cannot decode the ${input.format} source: ${firstLine(message)}`);
      }
      throw error;
    }
  }
}

/** libvips errors can run over many lines; the first says what went wrong. */
function firstLine(message: string): string {
  const line = message.split("\n", 1)[0].trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** The bytes of one frame. */
export function frameBytes(pixels: Pixels): number {
  return pixels.width * pixels.height * pixels.channels;
}

export function splitFrames(pixels: Pixels): Pixels[] {
  const size = frameBytes(pixels);
  return Array.from({ length: pixels.frames }, (_, i) => ({
    ...pixels,
    data: pixels.data.subarray(i * size, (i + 1) * size),
    frames: 1,
  }));
}

export function stackFrames(frames: Pixels[]): Pixels {
  const data = new Uint8Array(frames.reduce((sum, frame) => sum + frame.data.length, 0));
  frames.reduce((at, frame) => (data.set(frame.data, at), at + frame.data.length), 0);
  return { ...frames[0], data, frames: frames.length };
}
