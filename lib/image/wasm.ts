import type { Bitmap } from "./bitmap.ts";

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/**
 * Compiles a `.wasm` file shipped in an npm package once per worker, from its own file (the
 * packages' glue would otherwise fetch it itself). Instances are made from it per call, so the
 * memory a large image grew goes away with the instance instead of staying with the worker.
 * `transform` rewrites the bytes before compiling (the TIFF decoder's missing stack).
 *
 * @example
 * ```ts
 * const module = await compiledWasm("@jsquash/webp/codec/dec/webp_dec.wasm");
 * ```
 */
export function compiledWasm(
  specifier: string,
  transform: (bytes: Uint8Array) => Uint8Array<ArrayBuffer> = (bytes) =>
    bytes as Uint8Array<ArrayBuffer>,
): Promise<WebAssembly.Module> {
  let module = compiled.get(specifier);
  if (!module) {
    module = (async () => {
      const bytes = await Deno.readFile(new URL(import.meta.resolve(specifier)));
      return WebAssembly.compile(transform(bytes));
    })();
    compiled.set(specifier, module);
  }
  return module;
}

/** A bitmap as the `ImageData` the jSquash codecs take, sharing its pixels (never copied). */
export function asImageData({ width, height, data }: Bitmap): ImageData {
  const pixels = new Uint8ClampedArray(
    data.buffer as ArrayBuffer,
    data.byteOffset,
    data.byteLength,
  );
  return { width, height, data: pixels, colorSpace: "srgb", pixelFormat: "rgba-unorm8" };
}

/** The `init` of a jSquash codec module: it takes the compiled module and Emscripten options. */
// deno-lint-ignore no-explicit-any
type CodecInit = (...args: any[]) => Promise<unknown>;

/**
 * Runs one call of a jSquash (Emscripten) codec on a fresh instance of its compiled module.
 * Whatever goes wrong, a WebAssembly trap, an `abort()` or the C code's `exit()` included,
 * comes out as an `Error` that carries the codec's own last message (which it would otherwise
 * print to the server's stderr).
 */
export async function runCodec<T>(
  init: CodecInit,
  specifier: string,
  run: () => Promise<T>,
): Promise<T> {
  const messages: string[] = [];
  try {
    await init(await compiledWasm(specifier), { printErr: (line: string) => messages.push(line) });
    return await run();
  } catch (error) {
    const reason = messages.at(-1) ?? (error instanceof Error ? error.message : String(error));
    throw new Error(reason, { cause: error });
  }
}
