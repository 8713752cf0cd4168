// Shared test fixtures: images with known pixels, decoding outputs, and a real server on a
// loopback port.
import { join } from "node:path";
import { type App, startApp } from "../lib/app.ts";
import type { ApplyContext } from "../filters/filter.ts";
import type { PoolOptions } from "../lib/pool/pool.ts";
import { type Bitmap, createBitmap, type Size } from "../lib/image/bitmap.ts";
import { parseConfig } from "../lib/config/config.ts";
import type { OutputFormat } from "../lib/image/formats.ts";
import type { Logger } from "../lib/log.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { sniffEncoded, sniffFormat } from "../lib/image/sniff.ts";
import { cpuSeconds } from "./child_server.ts";

export type Rgba = [number, number, number, number];

/** For filters applied outside a job: no watermark images came along. */
export const noOverlays: ApplyContext = {
  overlaySize: (name) => {
    throw new Error(`No image for watermark "${name}" in this test`);
  },
  overlay: (name) => Promise.reject(new Error(`No image for watermark "${name}" in this test`)),
};

/** A bitmap whose every pixel comes from `paint`. */
export function makeBitmap(
  width: number,
  height: number,
  paint: (x: number, y: number) => readonly number[],
): Bitmap {
  const bitmap = createBitmap(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) bitmap.data.set(paint(x, y), (y * width + x) * 4);
  }
  return bitmap;
}

/** `term(i)` for i from 0 to `length` - 1. */
function termTable(length: number, term: (i: number) => number): Float64Array {
  const values = new Float64Array(length);
  for (let i = 0; i < length; i++) values[i] = term(i);
  return values;
}

/**
 * A smooth, photo-like test picture with some detail: red 128 + 100·sin(x/37)·cos(y/53), green
 * 128 + 90·sin((x+y)/71), blue 128 + 80·cos((x-2y)/29), opaque. Each term depends on x, y, x+y
 * or x-2y alone, so it is computed once per value (the same doubles, so the same bytes, as per
 * pixel): 0.1 s for 4096x4096 where a call per pixel took 2 s of the suite's CPU per picture.
 */
export function photoLike(width: number, height: number): Bitmap {
  const bitmap = createBitmap(width, height);
  const data = bitmap.data;
  const redX = termTable(width, (x) => 100 * Math.sin(x / 37));
  const redY = termTable(height, (y) => Math.cos(y / 53));
  const green = termTable(width + height, (sum) => 128 + 90 * Math.sin(sum / 71));
  // Indexed by x - 2y + 2·height, which is never negative.
  const blue = termTable(width + 2 * height, (i) => 128 + 80 * Math.cos((i - 2 * height) / 29));
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p += 4) {
      data[p] = 128 + redX[x] * redY[y];
      data[p + 1] = green[x + y];
      data[p + 2] = blue[x - 2 * y + 2 * height];
      data[p + 3] = 255;
    }
  }
  return bitmap;
}

/** A square in four quadrants: red top-left, green top-right, blue bottom-left, white. */
export function quadrants(side: number): Bitmap {
  const half = side / 2;
  return makeBitmap(
    side,
    side,
    (x, y) =>
      y < half
        ? (x < half ? [255, 0, 0, 255] : [0, 255, 0, 255])
        : (x < half ? [0, 0, 255, 255] : [255, 255, 255, 255]),
  );
}

/** Which {@link quadrants} colour a pixel is: "r", "g", "b", "w", or "?" for none of them. */
export function quadrantAt(bitmap: Bitmap, x: number, y: number): string {
  const [r, g, b] = pixelAt(bitmap, x, y).map((v) => v > 128);
  return r ? (g ? (b ? "w" : "?") : "r") : g ? "g" : b ? "b" : "?";
}

/**
 * 600x300 flat grey with one busy 100x100 patch (a colourful 4-pixel checkerboard) at
 * x 450..549, y 100..199: the subject a smart crop must keep.
 */
export function busyPatch(): Bitmap {
  return makeBitmap(600, 300, (x, y) => {
    const inside = x >= 450 && x < 550 && y >= 100 && y < 200;
    if (!inside) return [128, 128, 128, 255];
    return (x >> 2 ^ y >> 2) & 1 ? [250, 40, 30, 255] : [20, 60, 240, 255];
  });
}

/** Pixels that differ from the flat grey: how much of the patch a crop kept. */
export function busyPixels(bitmap: Bitmap): number {
  let count = 0;
  for (let i = 0; i < bitmap.data.length; i += 4) {
    if (Math.abs(bitmap.data[i] - 128) + Math.abs(bitmap.data[i + 2] - 128) > 60) count++;
  }
  return count;
}

/**
 * Peak signal-to-noise ratio over R, G and B, in dB (Infinity when equal). Colour is weighted
 * by alpha, so the invisible colour of transparent pixels does not count; alpha itself is
 * compared separately.
 */
export function psnr(a: Bitmap, b: Bitmap, channel: "rgb" | "alpha" = "rgb"): number {
  if (a.data.length !== b.data.length) throw new Error("psnr of bitmaps of different sizes");
  let sum = 0;
  let count = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (channel === "alpha") {
      sum += (a.data[i + 3] - b.data[i + 3]) ** 2;
      count++;
      continue;
    }
    for (let c = i; c < i + 3; c++) {
      sum += ((a.data[c] * a.data[i + 3] - b.data[c] * b.data[i + 3]) / 255) ** 2;
      count++;
    }
  }
  const mse = sum / count;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** A gray zone plate, its local frequency rising from 0 at the centre to Nyquist at the corners. */
export function zonePlate(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  const k = (0.5 * Math.PI) / Math.hypot(width / 2, height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r2 = (x - width / 2) ** 2 + (y - height / 2) ** 2;
      data.fill(
        Math.round(128 + 100 * Math.cos(k * r2)),
        (y * width + x) * 3,
        (y * width + x) * 3 + 3,
      );
    }
  }
  return data;
}

/**
 * RMS distance from mid-grey where the zone plate's local frequency is above 1.5× the output's
 * Nyquist, where Lanczos3 passes nothing: what remains of the pattern there is aliasing (0 is
 * clean).
 */
const STOP_BAND = 1.5;

export function aliasing(out: Bitmap, source: Size): number {
  const scale = source.width / out.width;
  const k = (0.5 * Math.PI) / Math.hypot(source.width / 2, source.height / 2);
  let sum = 0;
  let count = 0;
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const r = Math.hypot(
        (x + 0.5) * scale - source.width / 2,
        (y + 0.5) * scale - source.height / 2,
      );
      if ((k * r) / Math.PI < STOP_BAND / (2 * scale)) continue;
      sum += (out.data[(y * out.width + x) * 4] - 128) ** 2;
      count++;
    }
  }
  return Math.sqrt(sum / count);
}

/** The largest difference between R, G and B of any pixel. */
export function grayDeviation(bitmap: Bitmap): number {
  let worst = 0;
  const { data } = bitmap;
  for (let i = 0; i < data.length; i += 4) {
    const spread = Math.max(data[i], data[i + 1], data[i + 2]) -
      Math.min(data[i], data[i + 1], data[i + 2]);
    worst = Math.max(worst, spread);
  }
  return worst;
}

export function pixelAt(bitmap: Bitmap, x: number, y: number): Rgba {
  const i = (y * bitmap.width + x) * 4;
  return [...bitmap.data.subarray(i, i + 4)] as Rgba;
}

export function encode(bitmap: Bitmap, type: OutputFormat["type"], quality = 90) {
  return encodeBitmap(bitmap, { type, quality });
}

/**
 * Decodes a JPEG XL with libjxl's own `djxl` (Debian's libjxl-tools), through a PNG: the
 * server writes JPEG XL but does not read it.
 */
export async function decodeJxl(bytes: Uint8Array): Promise<Bitmap> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-jxl-" });
  try {
    await Deno.writeFile(join(dir, "in.jxl"), bytes);
    const { success, stderr } = await new Deno.Command("djxl", {
      args: [join(dir, "in.jxl"), join(dir, "out.png")],
      stdout: "null",
    }).output();
    if (!success) throw new Error(`djxl failed: ${new TextDecoder().decode(stderr)}`);
    return await decodeBitmap(await Deno.readFile(join(dir, "out.png")), "png");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Decodes any output of the server, whatever its format (AVIF as the server reads it). */
export function decode(bytes: Uint8Array): Promise<Bitmap> {
  if (sniffEncoded(bytes) === "jxl") return decodeJxl(bytes);
  const format = sniffFormat(bytes);
  if (!format) throw new Error("not an image");
  return decodeBitmap(bytes, format);
}

export const quietLog: Logger = { verbose: false, info() {}, error() {}, line() {}, flush() {} };

/** A server on a free loopback port serving the files given, stopped by `close()`. */
export interface TestServer {
  url: string;
  dir: string;
  app: App;
  close(): Promise<void>;
}

/**
 * Writes `files` into a temporary storage named "files", starts impressionist on it with
 * `config` merged over a test default, and answers its base URL (with the root).
 */
export async function startTestServer(
  files: Record<string, Uint8Array>,
  config: Record<string, unknown> = {},
  poolTuning: Pick<PoolOptions, "graceMs" | "workerUrl"> = {},
): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-test-" });
  await Deno.mkdir(join(dir, "files"));
  for (const [name, bytes] of Object.entries(files)) {
    await Deno.mkdir(join(dir, "files", name, ".."), { recursive: true });
    await Deno.writeFile(join(dir, "files", name), bytes);
  }
  const { http, ...rest } = config as { http?: Record<string, unknown> };
  const raw = {
    http: { host: "127.0.0.1", port: 0, workers: 1, ...http },
    storages: [{ name: "files", type: "local", path: "files" }],
    ...rest,
  };
  const app = await startApp(parseConfig(raw, dir), quietLog, poolTuning).catch(async (error) => {
    await Deno.remove(dir, { recursive: true });
    throw error;
  });
  const root = (http?.root as string | undefined) ?? "/impressionist";
  return {
    url: `http://127.0.0.1:${app.addr.port}${root}`,
    dir,
    app,
    async close() {
      await app.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * `startTestServer` on one backend; undefined (with a printed reason) when the backend's library
 * is missing, except under CI=true, where that fails the test.
 */
export async function startBackendServer(
  files: Record<string, Uint8Array>,
  backend: string,
  config: Record<string, unknown> = {},
): Promise<TestServer | undefined> {
  try {
    return await startTestServer(files, { ...config, backend });
  } catch (error) {
    if (backend === "pure" || Deno.env.get("CI") === "true") throw error;
    console.log(`skipped: ${(error as Error).message}`);
    return undefined;
  }
}

/**
 * Servers that tests of one file share, one per key (a backend, say), each started by the first
 * test that asks for it. A start costs 0.45-0.7 CPU-s (the server's modules, then the pool's
 * worker and spare loading theirs and their codecs); a test that only requests images gets the
 * same answers from a warm server. The tests that use one are declared with
 * {@link SharedServers.test}, and {@link SharedServers.stopAfterTests} follows the last of them.
 */
export class SharedServers<T extends { close(): Promise<void> }> {
  #started = new Map<string, Promise<T | undefined>>();

  /** `start` makes the server for a key: undefined when it cannot run here (a missing library). */
  constructor(private readonly start: (key: string) => Promise<T | undefined>) {}

  /** The server for `key`, started at the first call. */
  get(key: string): Promise<T | undefined> {
    let server = this.#started.get(key);
    if (!server) this.#started.set(key, server = this.start(key));
    return server;
  }

  /**
   * A test that may use the shared servers. Their listeners and workers outlive each test on
   * purpose, so the op and resource sanitizers are off for it.
   */
  test(name: string, fn: () => Promise<void>): void {
    Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
  }

  /**
   * Registers the test that stops the servers, after the tests that share them. (When --filter
   * leaves it out, the servers end with the test process, which kills its child processes.)
   */
  stopAfterTests(name: string): void {
    Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn: () => this.close() });
  }

  /** Stops the server for `key`, if any: the next `get` starts another (after a failed test). */
  async drop(key: string): Promise<void> {
    const server = this.#started.get(key);
    this.#started.delete(key);
    await (await server?.catch(() => undefined))?.close();
  }

  async close(): Promise<void> {
    const servers = [...this.#started.values()];
    this.#started.clear();
    for (const server of servers) await (await server.catch(() => undefined))?.close();
  }
}

async function commandRuns(command: string): Promise<boolean> {
  try {
    await new Deno.Command(command, { args: ["-version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

/** True when `command` runs; otherwise skips (printing why) unless CI=true, then fails. */
export async function requireCommand(command: string): Promise<boolean> {
  if (await commandRuns(command)) return true;
  if (Deno.env.get("CI") === "true") throw new Error(`${command} is required under CI=true`);
  console.log(`skipped: "${command}" is not installed`);
  return false;
}

/**
 * For `Deno.test({ ignore })`: true (skip, with a printed reason) when `command` is missing,
 * except under CI=true, where the tests run and fail.
 */
export async function skipWithout(command: string): Promise<boolean> {
  if (await commandRuns(command) || Deno.env.get("CI") === "true") return false;
  console.log(`skipped: "${command}" is not installed`);
  return true;
}

/** The spellings of `signature`'s MAC that a lenient base64 decoder reads as the same bytes. */
export function alternateSpellings(signature: string): string[] {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // The last of 43 characters carries 4 bits of the digest and 2 spare ones.
  const last = alphabet.indexOf(signature.at(-1)!);
  const spareBits = [1, 2, 3].map((bits) => signature.slice(0, -1) + alphabet[last | bits]);
  return [
    ...spareBits,
    signature + "=",
    signature.replaceAll("-", "+").replaceAll("_", "/"),
  ];
}

const mainModule = new URL("../main.ts", import.meta.url).pathname;

/** `main.ts` in a process of its own, with its output piped. */
export function spawnMain(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", mainModule, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads the child's stdout until it says where it listens. */
export async function listeningUrl(child: Deno.ChildProcess): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before listening: ${seen}`);
    seen += value;
    const match = /listening on (http:\/\/\S+)/.exec(seen);
    if (match) {
      // Keep draining so the child never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done);
      })();
      return match[1];
    }
  }
}

/** client.ts as one JavaScript module, for Node 20 and browsers (which cannot strip types). */
export async function clientBundle(): Promise<string> {
  const client = new URL("../client.ts", import.meta.url).pathname;
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", client],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!built.success) throw new Error(new TextDecoder().decode(built.stderr));
  return new TextDecoder().decode(built.stdout);
}

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ). */
const TICK = 0.01;

/** utime + stime, in seconds, from a /proc …/stat line (fields 14 and 15). */
export function cpuOfStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK;
}

/** CPU seconds the calling thread has used so far. */
export function threadCpu(): number {
  return cpuOfStat(Deno.readTextFileSync("/proc/thread-self/stat"));
}

/**
 * CPU seconds one decode of a JPEG takes on the pure backend: a single WebAssembly call that
 * nothing can interrupt, so a deadline falling inside it is kept only once it returns.
 */
export async function pureDecodeCpu(bytes: Uint8Array): Promise<number> {
  const before = threadCpu();
  await decodeBitmap(bytes, "jpeg");
  return threadCpu() - before;
}

/** CPU seconds process `pid` has used so far: its threads and the processes under it. */
export { cpuSeconds as processCpu };

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Asks for `url` and hangs up after `ms` milliseconds, as a client that leaves mid-job does;
 * resolves once it has left.
 */
export async function hangUpAfter(url: string, ms: number): Promise<void> {
  const leaving = new AbortController();
  const gone = fetch(url, { signal: leaving.signal }).then((response) => response.body?.cancel())
    .catch(() => {});
  await sleep(ms);
  leaving.abort();
  await gone;
}

/**
 * Waits until process `pid` is idle (its workers and the spare started): under 30 ms of CPU in
 * each of three 300 ms windows in a row.
 */
export async function quiet(pid: number): Promise<void> {
  for (let i = 0, calm = 0; i < 200 && calm < 3; i++) {
    const before = cpuSeconds(pid);
    await new Promise((resolve) => setTimeout(resolve, 300));
    calm = cpuSeconds(pid) - before < 0.03 ? calm + 1 : 0;
    if (i === 199) throw new Error("the server never became idle");
  }
}

/** A 4096x4096 JPEG of smooth waves: a source whose filters run for seconds. */
export async function bigJpeg(): Promise<Uint8Array> {
  const side = 4096;
  const bitmap = createBitmap(side, side);
  const d = bitmap.data;
  // Each channel depends on x, x+y or y alone: computed once per value, as in photoLike.
  const red = termTable(side, (x) => 128 + 100 * Math.sin(x / 37));
  const green = termTable(2 * side, (sum) => 128 + 90 * Math.sin(sum / 71));
  const blue = termTable(side, (y) => 128 + 80 * Math.cos(y / 29));
  for (let y = 0, p = 0; y < side; y++) {
    for (let x = 0; x < side; x++, p += 4) {
      d[p] = red[x];
      d[p + 1] = green[x + y];
      d[p + 2] = blue[y];
      d[p + 3] = 255;
    }
  }
  return await encodeBitmap(bitmap, { type: "jpeg", quality: 80 });
}
