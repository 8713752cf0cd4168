import type { Matrix3x3 } from "sharp";
import type { Canvas, DecodeHint, ShrinkOnLoad } from "../image/backend.ts";
import { type Bitmap, fitWithin, hasTransparency, type Rect, type Size } from "../image/bitmap.ts";
import { type ColorMatrix, type Rgba, transformSamples } from "../image/color.ts";
import { gaussianBlur, SAMPLED_KERNEL_BELOW } from "../image/blur.ts";
import { blendOver } from "../image/composite.ts";
import { resizeBitmap } from "../image/resample.ts";
import { type CancelToken, neverCancelled } from "../image/cancel.ts";
import {
  type Build,
  type Engine,
  frameBytes,
  type Input,
  type Pixels,
  splitFrames,
  stackFrames,
} from "./engine.ts";

/** Y = 0.299R + 0.587G + 0.114B into each of R, G and B (sharp's `greyscale` weighs otherwise). */
const LUMA: [number, number, number] = [0.299, 0.587, 0.114];
const GRAYSCALE: Matrix3x3 = [LUMA, LUMA, LUMA];

/**
 * Where the blur's kernel is cut, as a fraction of its peak. sharp's default (0.2) stops at
 * 1.8 sigma, a visibly different blur; at 0.001 it reaches 3.7 sigma, past which a Gaussian
 * weighs 0.02 %.
 */
const BLUR_MIN_AMPLITUDE = 0.001;

/** sharp refuses a blur below this sigma; a smaller one (`b,0.1`) runs on the shared Gaussian. */
const SHARP_MIN_SIGMA = 0.3;

/**
 * sharp's Gaussian blur of `sigma`; below a sigma of 1 in floating point, where sharp's default
 * integer kernel is too coarse to keep the mean (`b,0.5` of 5-px alpha stripes lost 4 levels of
 * alpha: 123.5 for 127.5) and so short that floats cost 2x (41 ms for 1.5 MP, not 23), not the
 * 20x they cost at sigma 10.
 */
function gaussian(sigma: number): Build {
  const precision = sigma < SAMPLED_KERNEL_BELOW ? "float" : "integer";
  return (pipeline) => pipeline.blur({ sigma, minAmplitude: BLUR_MIN_AMPLITUDE, precision });
}

/**
 * An exact-size Lanczos3 resize; libvips premultiplies alpha for it. When it reads the source,
 * libvips shrinks a JPEG or WebP on load: under `quality` to a scale that leaves at least twice
 * the target, so the Lanczos filter still has pixels to average (less moiré); under `fast` as
 * far as the target allows, sharp's default.
 */
function resizeTo(size: Size, shrinkOnLoad: ShrinkOnLoad = "fast"): Build {
  return (pipeline) =>
    pipeline.resize(size.width, size.height, {
      fit: "fill",
      kernel: "lanczos3",
      fastShrinkOnLoad: shrinkOnLoad === "fast",
    });
}

/**
 * Whether a resize from `from` to `target` grows an axis. libvips then samples off the
 * Lanczos3 grid (a 300x200 picture resized to 300x400 is 3.6 levels off ImageMagick's on
 * average, to 3x406 the middle column of a ramp moves by a sixth of the width; a shrink of both
 * axes agrees within 0.5), so the growth runs on the shared resampler instead.
 */
function grows(from: Size, target: Size): boolean {
  return target.width > from.width || target.height > from.height;
}

/** A raw step: every frame resized to `size` by the shared Lanczos3 (the pure backend's). */
function resampled(size: Size, cancel: CancelToken): (pixels: Pixels) => Promise<Pixels> {
  return (pixels) =>
    eachFrame(pixels, (frame) => {
      const rgba = toRgba(frame);
      const out = resizeBitmap(rgba, size.width, size.height, cancel);
      return { ...frame, ...size, data: out.data, channels: 4 };
    });
}

/** One primitive waiting to run. */
interface PendingOp {
  build: Build;
  /**
   * Set for right-angle rotations and flips, which commute with a resize; `transposes` when
   * they swap width and height.
   */
  turn?: { transposes: boolean };
  /** Set for a resize, which sharp applies frame by frame to a stacked animation itself. */
  resize?: true;
  /**
   * Set for work done in TypeScript on the pixels (then `build` is unused): the shared
   * per-pixel functions, where sharp has no operation with the same formula.
   */
  raw?: (pixels: Pixels) => Promise<Pixels>;
}

/** The pixels with every frame passed through `change`. */
async function eachFrame(
  pixels: Pixels,
  change: (frame: Pixels) => Pixels | Promise<Pixels>,
): Promise<Pixels> {
  const frames: Pixels[] = [];
  for (const frame of splitFrames(pixels)) frames.push(await change(frame));
  return stackFrames(frames);
}

/**
 * `count` pixels of `pixel`, written by doubling copies: a pixel at a time, 49 MP took seconds
 * that nothing could cancel.
 */
function filled(count: number, pixel: readonly number[]): Uint8Array {
  const data = new Uint8Array(count * pixel.length);
  if (data.length === 0) return data;
  data.set(pixel);
  for (let done = pixel.length; done < data.length; done *= 2) {
    data.copyWithin(done, 0, Math.min(done, data.length - done));
  }
  return data;
}

/** A frame as RGBA: a copy, with opaque alpha added to RGB. */
function toRgba(frame: Pixels): Pixels {
  if (frame.channels === 4) return { ...frame, data: frame.data.slice() };
  const data = new Uint8Array(frame.width * frame.height * 4);
  for (let i = 0, o = 0; i < frame.data.length; i += 3, o += 4) {
    data.set(frame.data.subarray(i, i + 3), o);
    data[o + 3] = 255;
  }
  return { ...frame, data, channels: 4 };
}

/** How an animation plays: each frame's delay in milliseconds, and 0 for a loop forever. */
export interface Animation {
  delays?: number[];
  loop?: number;
}

/**
 * A canvas over sharp. sharp runs the operations of one pipeline in its own fixed order, not
 * in call order, so the primitives are queued and each runs in a pipeline of its own, starting
 * from the pixels the previous one left (raw, in memory). Two fusions keep the common case as
 * fast as sharp alone: the first resize reads the source (libvips then decodes a JPEG at
 * reduced scale), and the last step runs in the encoder's pipeline.
 */
export class VipsCanvas implements Canvas {
  #input: Input | undefined;
  #steps: PendingOp[] = [];
  #size: Size;

  constructor(
    readonly engine: Engine,
    source: Input,
    size: Size,
    readonly frameCount: number,
    readonly animation: Animation,
    /** When the job gives up (`Date.now()` milliseconds); libvips stops then. */
    readonly deadline?: number,
    /** The decode hint: how far a resize that reads the source may shrink it on load. */
    readonly hint?: DecodeHint,
    /** The job's cancellation, checked by the work done in TypeScript (a growing resize). */
    readonly cancel: CancelToken = neverCancelled,
  ) {
    this.#input = source;
    this.#size = size;
  }

  get width(): number {
    return this.#size.width;
  }

  get height(): number {
    return this.#size.height;
  }

  crop(rect: Rect): void {
    const { x: left, y: top, width, height } = rect;
    this.#push({ build: (pipeline) => pipeline.extract({ left, top, width, height }) }, rect);
  }

  /**
   * A resize moves before the rotations and flips queued right before it (on their axes), so
   * it shrinks the image before they move its pixels, and a photo turned upright by its EXIF
   * orientation is still read at reduced scale.
   */
  resize(size: Size): void {
    let at = this.#steps.length;
    let transposed = false;
    for (let turn = this.#steps[at - 1]?.turn; turn; turn = this.#steps[at - 1]?.turn) {
      transposed = transposed !== turn.transposes;
      at--;
    }
    const target = transposed ? { width: size.height, height: size.width } : size;
    const from = transposed ? { width: this.height, height: this.width } : this.#size;
    // A growth follows on pixels; the shrink of the other axis still reads the source (and
    // shrinks on load) in libvips.
    const shrunk = {
      width: Math.min(from.width, target.width),
      height: Math.min(from.height, target.height),
    };
    const steps: PendingOp[] = [];
    if (shrunk.width < from.width || shrunk.height < from.height) {
      steps.push({ build: resizeTo(shrunk, this.#shrinkOnLoad(shrunk)), resize: true });
    }
    if (grows(from, target)) {
      steps.push({ build: (pipeline) => pipeline, raw: resampled(target, this.cancel) });
    }
    this.#steps.splice(at, 0, ...steps);
    this.#size = size;
  }

  /**
   * The policy of a resize to `target`: the hint's, unless the hint asks for more pixels than
   * the target (a smart fill decides on twice them), which libvips keeps with `quality`.
   */
  #shrinkOnLoad(target: Size): ShrinkOnLoad {
    const wanted = this.hint?.minSize;
    if (wanted && (wanted.width > target.width || wanted.height > target.height)) return "quality";
    return this.hint?.shrinkOnLoad ?? "fast";
  }

  flip(axis: "h" | "v"): void {
    // sharp's "flop" mirrors left/right and its "flip" turns upside down.
    const build: Build = (pipeline) => axis === "h" ? pipeline.flop() : pipeline.flip();
    this.#push({ build, turn: { transposes: false } }, this.#size);
  }

  rotate(degrees: 90 | 180 | 270): void {
    const transposes = degrees !== 180;
    const { width, height } = this.#size;
    // sharp turns clockwise.
    this.#push(
      { build: (pipeline) => pipeline.rotate(360 - degrees), turn: { transposes } },
      transposes ? { width: height, height: width } : this.#size,
    );
  }

  grayscale(): void {
    this.#push({ build: (pipeline) => pipeline.recomb(GRAYSCALE) }, this.#size);
  }

  blur(sigma: number): void {
    if (sigma < SHARP_MIN_SIGMA) {
      const raw = (pixels: Pixels) =>
        eachFrame(pixels, (frame) => {
          const blurred = gaussianBlur(toRgba(frame), sigma, this.cancel);
          return { ...frame, data: blurred.data, channels: 4 };
        });
      this.#pushRaw(raw, this.#size);
      return;
    }
    this.#push({ build: gaussian(sigma) }, this.#size);
  }

  extend(size: Size, at: { x: number; y: number }, color: Rgba): void {
    const raw = (pixels: Pixels) =>
      eachFrame(pixels, (frame) => {
        this.cancel.check();
        const channels = frame.channels === 4 || color[3] < 255 ? 4 : 3;
        const source = channels === 4 ? toRgba(frame) : frame;
        const data = filled(size.width * size.height, color.slice(0, channels));
        const row = frame.width * channels;
        for (let y = 0; y < frame.height; y++) {
          if (y % 256 === 0) this.cancel.check();
          const start = ((at.y + y) * size.width + at.x) * channels;
          data.set(source.data.subarray(y * row, (y + 1) * row), start);
        }
        return { ...frame, ...size, data, channels };
      });
    this.#pushRaw(raw, size);
  }

  composite(overlay: Bitmap, at: { x: number; y: number }, opacity: number): void {
    const raw = (pixels: Pixels) =>
      eachFrame(pixels, (frame) => {
        const data = frame.data.slice();
        const image = { width: frame.width, y: 0, rows: frame.height };
        blendOver(data, frame.channels, 255, image, overlay, at, opacity);
        return { ...frame, data };
      });
    this.#pushRaw(raw, this.#size);
  }

  transformColors(matrix: ColorMatrix): void {
    const raw = (pixels: Pixels) => {
      const data = pixels.data.slice();
      transformSamples(data, pixels.channels, 255, matrix);
      return Promise.resolve({ ...pixels, data });
    };
    this.#pushRaw(raw, this.#size);
  }

  /** sharp's own sharpen works on lightness in LAB: the blur is sharp's, the formula ours. */
  sharpen(sigma: number): void {
    const blur = gaussian(sigma);
    const raw = async (pixels: Pixels) => {
      const input = { kind: "pixels" as const, pixels };
      const blurred = (await this.engine.pixels(input, blur, this.deadline)).data;
      const data = pixels.data.slice();
      const { channels } = pixels;
      for (let i = 0; i < data.length; i += channels) {
        for (let c = i; c < i + 3; c++) {
          data[c] = Math.min(255, Math.max(0, 2 * data[c] - blurred[c]));
        }
      }
      return { ...pixels, data };
    };
    this.#pushRaw(raw, this.#size);
  }

  /** Runs the queued steps; the first frame, resized by sharp when it is larger than `maxSide`. */
  async sample(maxSide: number): Promise<Bitmap> {
    const fitted = fitWithin(this.#size, maxSide);
    if (
      (fitted.width < this.#size.width || fitted.height < this.#size.height) &&
      this.#current().kind === "source" && this.frameCount === 1 &&
      this.#steps.every((step) => step.turn)
    ) {
      // Still the source, at most turned: a resize reads it, shrinking on load as the decode
      // hint allows (what planning counts), on a copy so this canvas is left as it was.
      const copy = new VipsCanvas(
        this.engine,
        this.#current(),
        this.#size,
        1,
        this.animation,
        this.deadline,
        this.hint,
        this.cancel,
      );
      copy.#steps = [...this.#steps];
      copy.resize(fitted);
      const { width, height, data } = toRgba(await copy.pixels());
      return { width, height, data };
    }
    const pixels = await this.pixels();
    const first = { ...pixels, data: pixels.data.subarray(0, frameBytes(pixels)), frames: 1 };
    const size = fitWithin(first, maxSide);
    const shrunk = size.width === first.width && size.height === first.height
      ? first
      : await this.engine.pixels({ kind: "pixels", pixels: first }, resizeTo(size), this.deadline);
    const { width, height, data } = toRgba(shrunk);
    return { width, height, data };
  }

  /** Whether any pixel of any frame is not fully opaque; runs the queued steps. */
  async hasAlpha(): Promise<boolean> {
    const pixels = await this.pixels();
    return pixels.channels === 4 && hasTransparency(pixels);
  }

  /** Runs every queued step and answers the pixels. */
  async pixels(): Promise<Pixels> {
    while (this.#steps.length > 0) await this.#runStep(this.#steps.shift()!);
    return await this.#decoded();
  }

  /**
   * Runs the queued steps and then `encoder` (an encoder's settings, ending the pipeline), the
   * last step in the encoder's own pipeline when that is safe. Without `allFrames`, an
   * animation is encoded from its first frame. `flattens` says the encoder flattens alpha,
   * which sharp does before a resize in the same pipeline: the Lanczos resize of the flattened
   * image rings where the other backends clip the resize of the image with alpha (a logo's
   * edges at `s,67x0/jpeg,100` came out up to 26 levels off), so a resize of an image that may
   * have alpha then runs in a pipeline of its own first.
   */
  async encode(
    encoder: Build,
    allFrames: boolean,
    flattens = false,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (!allFrames && this.frameCount > 1) {
      const pixels = await this.pixels();
      const frame = { ...pixels, data: pixels.data.subarray(0, frameBytes(pixels)), frames: 1 };
      return await this.engine.encoded({ kind: "pixels", pixels: frame }, encoder, this.deadline);
    }
    const fusable = (step: PendingOp) =>
      this.#fusable(step) && !(flattens && step.resize && this.#mayHaveAlpha());
    while (this.#steps.length > 1 || (this.#steps.length === 1 && !fusable(this.#steps[0]))) {
      await this.#runStep(this.#steps.shift()!);
    }
    const last = this.#steps.shift();
    const build: Build = last ? (pipeline) => encoder(last.build(pipeline)) : encoder;
    return await this.engine.encoded(this.#current(), build, this.deadline);
  }

  dispose(): void {
    this.#steps = [];
    this.#input = undefined;
  }

  #pushRaw(raw: (pixels: Pixels) => Promise<Pixels>, size: Size): void {
    this.#push({ build: (pipeline) => pipeline, raw }, size);
  }

  #push(step: PendingOp, size: Size): void {
    this.#steps.push(step);
    this.#size = { width: size.width, height: size.height };
  }

  #current(): Input {
    if (!this.#input) throw new Error("The canvas was disposed");
    return this.#input;
  }

  /**
   * Whether `step` may share a pipeline with what reads the current input: always for one
   * image; for an animation only a resize on the source, since other operations would treat
   * the stacked frames as one tall image (they run frame by frame on pixels instead).
   */
  #fusable(step: PendingOp): boolean {
    if (step.raw) return false;
    const input = this.#current();
    if (input.kind === "source") return !input.animated || step.resize === true;
    return input.pixels.frames === 1;
  }

  /** Whether the current input may have alpha: a JPEG source never has. */
  #mayHaveAlpha(): boolean {
    const input = this.#current();
    return input.kind === "source" ? input.format !== "jpeg" : input.pixels.channels === 4;
  }

  async #runStep(step: PendingOp): Promise<void> {
    if (step.raw) {
      this.#input = { kind: "pixels", pixels: await step.raw(await this.#decoded()) };
      return;
    }
    // Frames already in pixels go one by one (see Engine.pixels); an animation's source is
    // decoded first, unless the step is a resize.
    const input = this.#fusable(step) || this.#current().kind === "pixels"
      ? this.#current()
      : { kind: "pixels" as const, pixels: await this.#decoded() };
    const pixels = await this.engine.pixels(input, step.build, this.deadline);
    this.#input = { kind: "pixels", pixels };
  }

  /** The current input as pixels: the source is decoded as it is. */
  async #decoded(): Promise<Pixels> {
    const input = this.#current();
    if (input.kind === "pixels") return input.pixels;
    const pixels = await this.engine.pixels(input, (pipeline) => pipeline, this.deadline);
    this.#input = { kind: "pixels", pixels };
    return pixels;
  }
}
