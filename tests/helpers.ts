// Shared test fixtures: images with known pixels, decoding outputs, and a real server on a
// loopback port.
import { join } from "node:path";
import { type App, startApp } from "../lib/app.ts";
import { type Bitmap, createBitmap } from "../lib/image/bitmap.ts";
import { parseConfig } from "../lib/config/config.ts";
import type { OutputFormat } from "../lib/image/formats.ts";
import type { Logger } from "../lib/log.ts";
import { decodeBitmap } from "../lib/pure/decode.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { sniffFormat } from "../lib/image/sniff.ts";

export type Rgba = [number, number, number, number];

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

/** A smooth, photo-like test picture with some detail. */
export function photoLike(width: number, height: number): Bitmap {
  return makeBitmap(width, height, (x, y) => [
    128 + 100 * Math.sin(x / 37) * Math.cos(y / 53),
    128 + 90 * Math.sin((x + y) / 71),
    128 + 80 * Math.cos((x - 2 * y) / 29),
    255,
  ]);
}

export function pixelAt(bitmap: Bitmap, x: number, y: number): Rgba {
  const i = (y * bitmap.width + x) * 4;
  return [...bitmap.data.subarray(i, i + 4)] as Rgba;
}

export function encode(bitmap: Bitmap, type: OutputFormat["type"], quality = 90) {
  return encodeBitmap(bitmap, { type, quality });
}

/** Decodes any output of the server, whatever its format. */
export function decode(bytes: Uint8Array): Promise<Bitmap> {
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
  const app = await startApp(parseConfig(raw, dir), quietLog).catch(async (error) => {
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
