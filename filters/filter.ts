import type { Canvas } from "../lib/image/backend.ts";
import type { Size } from "../lib/image/bitmap.ts";

/** Limits a filter's argument parser must respect. */
export interface ParseContext {
  maxBlurSigma: number;
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
  /** Parses the argument token (`""` when arity is 0); throws BadRequest naming it. */
  parse(arg: string, context: ParseContext): P;
  /** The output size for an input size; throws BadRequest when the input makes no sense. */
  size(input: Size, params: P): Size;
  /**
   * Changes the canvas in place. `input` is the size planned for this step from the source's
   * full size; the canvas may be smaller when the decoder shrank it for a first resize.
   */
  apply(canvas: Canvas, params: P, input: Size): void;
  /** The smallest decoded size this filter needs when it runs first, if it shrinks. */
  decodeHint?(input: Size, params: P): Size | undefined;
}
