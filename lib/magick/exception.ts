import { Unprocessable } from "../errors.ts";
import type { MagickApi, Wand, WandException } from "./api.ts";

/** `ExceptionType` values, the same in every wand library. */
export const CORRUPT_IMAGE_WARNING = 325;
export const ERROR_EXCEPTION = 400;

/** Reads and clears the wand's exception, freeing the string the library allocated. */
export function takeException(api: MagickApi, wand: Wand): WandException {
  const severity = new Uint32Array(1);
  const text = api.c.MagickGetException(wand, severity);
  let message = "";
  if (text) {
    try {
      message = Deno.UnsafePointerView.getCString(text);
    } finally {
      api.c.MagickRelinquishMemory(text);
    }
  }
  api.c.MagickClearException(wand);
  return { severity: severity[0], message: tidyMessage(message) };
}

/**
 * Drops the noise around a library message: the source location ImageMagick appends, and
 * the empty file name of a blob in either library's quoting.
 */
export function tidyMessage(message: string): string {
  return message.replace(/ @ \S+$/, "").replace(/ `'| \(\)/g, "").trim();
}

/** An `Unprocessable` error for a failed call, carrying the library's own reason. */
export function failure(api: MagickApi, wand: Wand, doing: string): Unprocessable {
  const { message } = takeException(api, wand);
  const reason = message || "no reason given";
  return new Unprocessable(`${api.dialect.label} cannot ${doing}: ${reason}`);
}

/**
 * Throws `failure(…)` unless `ok`.
 *
 * @throws {Unprocessable} with the library's message
 */
export function check(api: MagickApi, wand: Wand, ok: boolean | number, doing: string): void {
  if (!ok) throw failure(api, wand, doing);
}
