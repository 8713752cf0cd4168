import { type Bitmap, type Size } from "../image/bitmap.ts";
import { compiledWasm } from "../image/wasm.ts";

/** libjpeg-turbo 2.0's TurboJPEG decoder, built for WebAssembly without SIMD by @cwasm/jpeg-turbo. */
const MODULE = "@cwasm/jpeg-turbo/jpeg-turbo.wasm";

/** The exports of that build (TurboJPEG's C API; pointers are offsets in `memory`). */
interface TurboJpeg {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  tjInitDecompress(): number;
  tjDecompressHeader3(
    handle: number,
    jpeg: number,
    size: number,
    width: number,
    height: number,
    subsampling: number,
    colorspace: number,
  ): number;
  tjDecompress2(
    handle: number,
    jpeg: number,
    size: number,
    out: number,
    width: number,
    pitch: number,
    height: number,
    pixelFormat: number,
    flags: number,
  ): number;
}

const TJPF_RGBA = 7;
const MARKER = 0xff;
const EOI = 0xd9;
const SOS = 0xda;
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;

/** The build's C library calls these only to print or exit, which a decode never needs. */
const unsupported = (name: string) => () => {
  throw new Error(`the JPEG decoder called ${name}`);
};

const imports = {
  // libjpeg reports a fatal error by a longjmp to TurboJPEG's setjmp: throwing instead ends the
  // call (and the instance with it, which nothing reuses).
  env: {
    setjmp: () => 0,
    longjmp: () => {
      throw new Error("the JPEG data is corrupt");
    },
  },
  wasi_snapshot_preview1: {
    environ_sizes_get: () => 0,
    environ_get: unsupported("environ_get"),
    proc_exit: unsupported("proc_exit"),
    fd_close: unsupported("fd_close"),
    fd_seek: unsupported("fd_seek"),
    fd_write: unsupported("fd_write"),
  },
};

/**
 * Decodes a JPEG into RGBA with libjpeg-turbo, at `size`: `probed` or one of its DCT scalings
 * (1/2, 1/4 or 1/8, each side rounded up, as `jpegScale` names them), which also upsamples chroma smoothly at 1/2 and 1/4. A fresh
 * instance per call: the memory a large image grew goes with it. Answers undefined for CMYK and
 * YCCK JPEGs, which TurboJPEG cannot turn into RGB.
 *
 * @throws {Error} when the data is corrupt or truncated, or its header disagrees with `probed`
 */
export async function decodeTurboJpeg(
  bytes: Uint8Array,
  probed: Size,
  size: Size,
): Promise<Bitmap | undefined> {
  const module = await compiledWasm(MODULE);
  const wasm = new WebAssembly.Instance(module, imports).exports as unknown as TurboJpeg;
  const input = wasm.malloc(bytes.length);
  const header = wasm.malloc(16);
  if (input === 0 || header === 0) throw new Error("the JPEG decoder is out of memory");
  new Uint8Array(wasm.memory.buffer, input, bytes.length).set(bytes);
  const handle = wasm.tjInitDecompress();
  if (
    wasm.tjDecompressHeader3(
      handle,
      input,
      bytes.length,
      header,
      header + 4,
      header + 8,
      header + 12,
    ) !== 0
  ) {
    throw new Error("the JPEG header is corrupt");
  }
  const [width, height, , colorspace] = new Int32Array(wasm.memory.buffer, header, 4);
  if (width !== probed.width || height !== probed.height) {
    throw new Error(
      `the JPEG decoder found ${width}x${height} pixels where the header says ${probed.width}x${probed.height}`,
    );
  }
  if (colorspace === TJCS_CMYK || colorspace === TJCS_YCCK) return undefined;
  // TurboJPEG picks the largest of its scales that fits the size asked for: exactly `size`.
  const out = { width: size.width, height: size.height };
  const length = out.width * out.height * 4;
  const pixels = wasm.malloc(length);
  if (pixels === 0) throw new Error("the JPEG decoder is out of memory");
  // Errors end the call by a throw (above); -1 here is one of libjpeg's warnings, most of them
  // about streams it reads anyway (a repeated scan, extraneous bytes), as ImageScript's decoder
  // did. A file cut short is one too (libjpeg fills the rest with grey): that one is refused.
  const args = [pixels, out.width, 0, out.height, TJPF_RGBA, 0] as const;
  const status = wasm.tjDecompress2(handle, input, bytes.length, ...args);
  if (status !== 0 && !hasEndMarker(bytes)) throw new Error("the JPEG data is truncated");
  return { ...out, data: new Uint8Array(wasm.memory.buffer, pixels, length).slice() };
}

/**
 * Whether the JPEG's last scan is followed by its EOI marker (trailing bytes allowed). 0xFF is
 * always followed by 0x00 inside entropy-coded data, so FF D9 and FF DA (a scan's start) after
 * the headers are only ever markers; an EXIF thumbnail's own EOI comes before the image's scans.
 */
function hasEndMarker(bytes: Uint8Array): boolean {
  for (let at = bytes.length - 2; at >= 0; at--) {
    if (bytes[at] !== MARKER) continue;
    if (bytes[at + 1] === EOI) return true;
    if (bytes[at + 1] === SOS) return false;
  }
  return false;
}
