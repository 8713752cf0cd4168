import type { Canvas } from "../lib/image/backend.ts";
import type { Size } from "../lib/image/bitmap.ts";
import type { Watermark } from "./watermark.ts";

/** Limits a filter's argument parser must respect, and the configured names it may use. */
export interface ParseContext {
  maxBlurSigma: number;
  /** The configured watermarks by name (config `watermarks`); none when absent. */
  watermarks?: ReadonlyMap<string, Watermark>;
}

/** What planning knows besides the image's size: the size of each watermark's image. */
export interface PlanContext {
  /** The decoded size of the watermark `name`'s image, read from its header. */
  overlaySize(name: string): Size;
  /**
   * Whether the backend holds the image between a resize's two one-axis passes whole (the
   * magick libraries do; pure and libvips stream it); planning says.
   */
  holdsResizePass?: boolean;
}

/** What a filter may need beyond the canvas while it runs. */
export interface ApplyContext extends PlanContext {
  /**
   * A fresh canvas (same backend) of the watermark `name`'s image, which travelled with the
   * job; the caller of `overlay` disposes it.
   */
  overlay(name: string): Promise<Canvas>;
}

/** One field of a filter's argument, as a form control would offer it. */
export interface ArgumentField {
  /** The placeholder's name in {@link FilterDoc.template}. */
  name: string;
  /** A human label, such as "Width (px)". */
  label: string;
  kind: "integer" | "number" | "choice" | "text";
  min?: number;
  max?: number;
  /** For `choice`: the values (as they appear in the token) and their labels. */
  choices?: readonly { value: string; label: string }[];
  /** The config list whose names are the values (the playground offers them as choices). */
  namesFrom?: "watermarks";
  /** The value a new control starts with, as it appears in the token. */
  default: string;
}

/**
 * What a filter is and how its argument token is written: read by the playground to build
 * one control per field, and by anyone generating documentation. Data only, so it can be
 * served as JSON.
 */
export interface FilterDoc {
  /** One line: what the filter does. */
  summary: string;
  /** The argument's fields in order; empty when the filter takes no argument. */
  fields: readonly ArgumentField[];
  /** How the fields join into the argument: `{name}` placeholders, like `{width}x{height}`. */
  template: string;
}

/**
 * One filter of the URL chain. The module decides the geometry (`size`), so every backend
 * produces outputs of the same size; the backend only supplies the pixel operations.
 */
export interface Filter<P> {
  /** The token that names it in a chain, such as `s`. */
  readonly name: string;
  /** How many argument tokens follow the name: 0 or 1. */
  readonly arity: 0 | 1;
  /** Its description and argument form, for the playground and documentation. */
  readonly doc: FilterDoc;
  /** Parses the argument token (`""` when arity is 0); throws BadRequest naming it. */
  parse(arg: string, context: ParseContext): P;
  /** The output size for an input size; throws BadRequest when the input makes no sense. */
  size(input: Size, params: P): Size;
  /**
   * Changes the canvas in place. `input` is the size planned for this step from the source's
   * full size; the canvas may be smaller when the decoder shrank it for a first resize. May
   * be asynchronous (a decision made in TypeScript on the pixels, such as a smart crop).
   */
  apply(canvas: Canvas, params: P, input: Size, context: ApplyContext): void | Promise<void>;
  /**
   * Every image the filter allocates on its way besides its input and output: fill's scaled
   * size before its crop, a blur's or sharpen's scratch copy, pad's new canvas, a watermark's
   * decoded and scaled mark. Planning holds each to the pixel limit and counts it in the job's
   * memory before anything is decoded, so a filter that allocates must say so here.
   */
  intermediates?(input: Size, params: P, context: PlanContext): Size[];
  /**
   * How many plain passes over its pixels this step's work is, when more than one (a blur's
   * kernel widens with its sigma): planning adds up the job's work (`PlannedWork`) to tell a
   * light job from a heavy one.
   */
  passes?(params: P): number;
  /** The smallest decoded size this filter needs when it runs first, if it shrinks. */
  decodeHint?(input: Size, params: P): Size | undefined;
  /**
   * Whether it may make an opaque image partly transparent (pad's clear border): planning
   * then counts what an encoder pays for transparency.
   */
  addsAlpha?(params: P): boolean;
}
