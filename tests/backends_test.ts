// One end-to-end URL table, run against a real server on every backend: the other backends
// must answer with the same statuses, sizes and content types as the pure one, and pixels
// close to its pixels.
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { ConfigError } from "../lib/config/config.ts";
import { encodeGif } from "../lib/pure/gif.ts";
import {
  decode,
  encode,
  grayDeviation,
  makeBitmap,
  photoLike,
  psnr,
  startTestServer,
} from "./helpers.ts";

type BackendName = "pure" | "imagemagick" | "graphicsmagick" | "vips";

/** How an output's pixels are held against the pure backend's. */
type Compare =
  /** PSNR ≥ 35 dB: resize, flip, rotate, crop and grayscale. */
  | "geometry"
  /** PSNR ≥ 30 dB: the libraries' blurs are FIR kernels, ours a recursive approximation. */
  | "blur"
  /** PSNR ≥ 30 dB: JPEG outputs, where two encoders' losses add up. */
  | "lossy";

interface Case {
  /** Everything after the root: chain, format, storage and path. */
  path: string;
  status: number;
  /** For a 200: the Content-Type and the decoded size. */
  type?: "image/png" | "image/jpeg";
  size?: [number, number];
  compare?: Compare;
  /** Whether the output must be grey: R = G = B within ±1. */
  gray?: boolean;
}

const GEOMETRY_MIN_PSNR = 35;
const BLUR_MIN_PSNR = 30;
const LOSSY_MIN_PSNR = 30;

const minPsnr: Record<Compare, number> = {
  geometry: GEOMETRY_MIN_PSNR,
  blur: BLUR_MIN_PSNR,
  lossy: LOSSY_MIN_PSNR,
};

function png(path: string, size: [number, number], compare: Compare = "geometry"): Case {
  return { path, status: 200, type: "image/png", size, compare };
}

function gray(path: string, size: [number, number]): Case {
  return { ...png(path, size), gray: true };
}

function jpeg(path: string, size: [number, number], compare: Compare = "lossy"): Case {
  return { path, status: 200, type: "image/jpeg", size, compare };
}

function refused(path: string, status: number): Case {
  return { path, status };
}

const photo = "files/photo.jpg";
const alpha = "files/alpha.png";
const gif = "files/photo.gif";
const tiff = "files/photo.tiff";
const frame = "files/frame.png";

/** The bad sources: each must be a 422 on every backend, never a crash or a 500. */
const badSources = [
  "files/truncated.jpg",
  "files/truncated.png",
  "files/random.jpg",
  "files/svg.png",
  "files/postscript.png",
];

const table: Case[] = [
  // Resize, every mode, on the 640x480 photo.
  png(`s,320x240/png/${photo}`, [320, 240]),
  png(`s,200x0/png/${photo}`, [200, 150]),
  png(`s,0x100/png/${photo}`, [133, 100]),
  png(`s,333x111/png/${photo}`, [333, 111]),
  png(`s,300x300+/png/${photo}`, [300, 225]),
  png(`s,300x300%20/png/${photo}`, [300, 225]),
  png(`s,300x300-/png/${photo}`, [300, 300]),
  png(`s,100x0/png/${photo}`, [100, 75]),
  png(`small/png/${photo}`, [100, 75]),
  png(`s,1000x0/png/${photo}`, [1000, 750]),
  // Fill windows: each gravity and a focus point.
  ...["n", "s", "e", "w", "ne", "nw", "se", "sw"].map((g) =>
    png(`s,200x100-${g}/png/${photo}`, [200, 100])
  ),
  png(`s,100x200-e/png/${photo}`, [100, 200]),
  png(`s,100x200-sw/png/${photo}`, [100, 200]),
  png(`s,200x100-f0.3:0.8/png/${photo}`, [200, 100]),
  png(`s,200x100-smart/png/${photo}`, [200, 100]),
  png(`s,100x200-smart/png/${photo}`, [100, 200]),
  png(`s,120x120-smart/png/${alpha}`, [120, 120]),
  // Crop, flip, rotate.
  png(`c,100x50-200x150/png/${photo}`, [200, 150]),
  png(`c,600x400-100x100/png/${photo}`, [40, 80]),
  png(`f,h/png/${photo}`, [640, 480]),
  png(`f,v/png/${photo}`, [640, 480]),
  png(`r,90/png/${photo}`, [480, 640]),
  png(`r,180/png/${photo}`, [640, 480]),
  png(`r,270/png/${photo}`, [480, 640]),
  // Grayscale and blur.
  gray(`gs/png/${photo}`, [640, 480]),
  png(`b,2/png/${photo}`, [640, 480], "blur"),
  // Under sigma 0.3, which sharp refuses, vips blurs with the shared Gaussian.
  png(`b,0.2/png/${alpha}`, [160, 120], "blur"),
  // Sharpening: the libraries' unsharp masks against ours.
  png(`sh,1/png/${photo}`, [640, 480], "blur"),
  png(`s,200x0,sh,0.5/png/${photo}`, [200, 150], "blur"),
  png(`sh,3/png/${alpha}`, [160, 120], "blur"),
  png(`sh,2/png/${frame}`, [160, 120], "blur"),
  // Padding: transparent, coloured and half-transparent borders.
  png(`pad,700x500/png/${photo}`, [700, 500]),
  png(`s,200x0,pad,201x201:336699/png/${photo}`, [201, 201]),
  png(`pad,171x131:ff000080/png/${alpha}`, [171, 131]),
  jpeg(`pad,180x130/jpeg/${alpha}`, [180, 130]),
  // Watermarks: scaled, placed and blended the same way everywhere.
  png(`wm,mark/png/${photo}`, [640, 480]),
  png(`s,200x0,wm,frame,wm,mark/png/${photo}`, [200, 150]),
  png(`wm,mark/png/${alpha}`, [160, 120]),
  jpeg(`s,300x0,wm,mark/jpeg/${photo}`, [300, 225]),
  // Colour adjustments: one formula, the same on every backend.
  png(`br,30/png/${photo}`, [640, 480]),
  png(`br,-60/png/${alpha}`, [160, 120]),
  png(`ct,40/png/${photo}`, [640, 480]),
  png(`ct,-70/png/${alpha}`, [160, 120]),
  png(`sat,60/png/${photo}`, [640, 480]),
  gray(`sat,-100/png/${photo}`, [640, 480]),
  jpeg(`s,200x0,br,10,ct,10,sat,10/jpeg/${photo}`, [200, 150]),
  // Edges: past the border, every backend blurs as if the edge pixels repeated.
  png(`b,8/png/${frame}`, [160, 120], "blur"),
  // Chains.
  gray(`s,200x0,gs,r,90/png/${photo}`, [150, 200]),
  png(`c,0x0-320x240,s,160x0,f,v/png/${photo}`, [160, 120]),
  gray(`small,gs,f,h/png/${photo}`, [100, 75]),
  png(`r,270,s,0x200,b,2/png/${photo}`, [150, 200], "blur"),
  // JPEG outputs.
  jpeg(`s,200x0/jpeg/${photo}`, [200, 150]),
  jpeg(`s,200x0/jpeg,50/${photo}`, [200, 150]),
  jpeg(`s,200x200-/jpg,90/${photo}`, [200, 200]),
  jpeg(`gs/jpeg/${photo}`, [640, 480]),
  // The other sources.
  png(`s,80x0/png/${alpha}`, [80, 60]),
  png(`r,90/png/${alpha}`, [120, 160]),
  gray(`gs/png/${alpha}`, [160, 120]),
  png(`b,2/png/${alpha}`, [160, 120], "blur"),
  jpeg(`s,80x0/jpeg/${alpha}`, [80, 60]),
  png(`s,80x0/png/${gif}`, [80, 60]),
  png(`f,v/png/${gif}`, [160, 120]),
  gray(`gs/png/${gif}`, [160, 120]),
  png(`s,200x0/png/${tiff}`, [200, 150]),
  png(`r,270/png/${tiff}`, [480, 640]),
  png(`c,10x10-50x50/png/${tiff}`, [50, 50]),
  // Requests to refuse, whatever the backend.
  refused(`s,200x0,/png/${photo}`, 400),
  refused(`s/png/${photo}`, 400),
  refused(`x,1/png/${photo}`, 400),
  refused(`s,0x0/png/${photo}`, 400),
  refused(`s,20xx/png/${photo}`, 400),
  refused(`s,20x20-x/png/${photo}`, 400),
  refused(`s,20x20-f1.5:0/png/${photo}`, 400),
  refused(`s,20x20+smart/png/${photo}`, 400),
  refused(`c,700x500-10x10/png/${photo}`, 400),
  refused(`c,0x0-0x10/png/${photo}`, 400),
  refused(`r,45/png/${photo}`, 400),
  refused(`br,101/png/${photo}`, 400),
  refused(`wm,nope/png/${photo}`, 400),
  refused(`pad,600x600/png/${photo}`, 400),
  refused(`pad,700x700:red/png/${photo}`, 400),
  refused(`sh,0.2/png/${photo}`, 400),
  refused(`sh,11/png/${photo}`, 400),
  refused(`ct,-101/png/${photo}`, 400),
  refused(`sat,1.5/png/${photo}`, 400),
  refused(`f,x/png/${photo}`, 400),
  refused(`b,x/png/${photo}`, 400),
  refused(`b,1000/png/${photo}`, 400),
  refused(`s,200x0/jpeg,0/${photo}`, 400),
  refused(`s,200x0/jpeg,101/${photo}`, 400),
  refused(`s,200x0/tga/${photo}`, 400),
  refused(`s,200x0/png/files/missing.jpg`, 404),
  refused(`s,200x0/png/nowhere/photo.jpg`, 404),
  ...badSources.map((source) => refused(`s,100x0/png/${source}`, 422)),
  ...badSources.map((source) => refused(`gs/jpeg/${source}`, 422)),
];

/** Asked once the whole table is answered: the server still works after all of that. */
const afterwards = png(`s,100x0/png/${photo}`, [100, 75]);

async function convert(...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("convert", { args, stdout: "null" })
    .output();
  if (!success) throw new Error(`convert ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

async function hasConvert(): Promise<boolean> {
  try {
    await new Deno.Command("convert", { args: ["-version"], stdout: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/** A 160x120 picture whose alpha runs from opaque to fully transparent. */
function withAlpha(): Bitmap {
  return makeBitmap(160, 120, (x, y) => [
    128 + 100 * Math.sin(x / 13),
    128 + 100 * Math.cos(y / 17),
    // Smooth: on noise, JPEG's error (and its chroma subsampling) would swamp the comparison.
    128 + 100 * Math.sin((x + y) / 23),
    Math.max(0, 255 - 2 * x),
  ]);
}

/** A black 160x120 picture framed by a white line two pixels wide. */
function framed(): Bitmap {
  return makeBitmap(160, 120, (x, y) => {
    const edge = Math.min(x, y, 159 - x, 119 - y) < 2;
    return edge ? [255, 255, 255, 255] : [0, 0, 0, 255];
  });
}

/** An uncompressed little-endian RGB TIFF, for machines without `convert`. */
function tiffOf(bitmap: Bitmap): Uint8Array {
  const { width, height, data } = bitmap;
  const entries: [number, number, number, number][] = [
    [256, 3, 1, width], // ImageWidth
    [257, 3, 1, height], // ImageLength
    [258, 3, 3, 0], // BitsPerSample, 8,8,8 stored after the IFD
    [259, 3, 1, 1], // Compression: none
    [262, 3, 1, 2], // PhotometricInterpretation: RGB
    [273, 4, 1, 0], // StripOffsets, patched below
    [277, 3, 1, 3], // SamplesPerPixel
    [278, 3, 1, height], // RowsPerStrip
    [279, 4, 1, width * height * 3], // StripByteCounts
  ];
  const ifd = 8;
  const bits = ifd + 2 + entries.length * 12 + 4;
  const pixels = bits + 6;
  entries[2][3] = bits;
  entries[5][3] = pixels;
  const out = new Uint8Array(pixels + width * height * 3);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, ifd, true);
  view.setUint16(ifd, entries.length, true);
  entries.forEach(([tag, type, count, value], i) => {
    const at = ifd + 2 + i * 12;
    view.setUint16(at, tag, true);
    view.setUint16(at + 2, type, true);
    view.setUint32(at + 4, count, true);
    if (type === 3 && count === 1) view.setUint16(at + 8, value, true);
    else view.setUint32(at + 8, value, true);
  });
  for (let i = 0; i < 3; i++) view.setUint16(bits + i * 2, 8, true);
  for (let i = 0, o = pixels; i < data.length; i += 4, o += 3) out.set(data.subarray(i, i + 3), o);
  return out;
}

/**
 * The sources. With `convert`, the photo is a plasma fractal, a realistic texture made
 * independently of the code under test; without, the helpers' synthetic picture.
 */
async function makeFixtures(): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  const dir = await Deno.makeTempDir({ prefix: "impressionist-backends-" });
  try {
    const path = (name: string) => join(dir, name);
    if (await hasConvert()) {
      await convert(
        "-size",
        "640x480",
        "-seed",
        "3",
        "plasma:fractal",
        "-quality",
        "90",
        path("photo.jpg"),
      );
      await convert(path("photo.jpg"), "-resize", "160x120!", path("photo.gif"));
      await convert(path("photo.jpg"), "-compress", "lzw", path("photo.tiff"));
      for (const name of ["photo.jpg", "photo.gif", "photo.tiff"]) {
        files[name] = await Deno.readFile(path(name));
      }
    } else {
      const picture = photoLike(640, 480);
      files["photo.jpg"] = await encode(picture, "jpeg");
      files["photo.gif"] = encodeGif([{ bitmap: photoLike(160, 120), delayMs: 0 }], undefined);
      files["photo.tiff"] = tiffOf(picture);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  files["alpha.png"] = await encode(withAlpha(), "png");
  files["frame.png"] = await encode(framed(), "png");
  const text = (value: string) => new TextEncoder().encode(value);
  files["truncated.jpg"] = files["photo.jpg"].slice(0, files["photo.jpg"].length >> 1);
  files["truncated.png"] = files["alpha.png"].slice(0, files["alpha.png"].length >> 1);
  // A fixed sequence (a linear congruential generator), so every run sends the same bytes.
  let seed = 12345;
  files["random.jpg"] = Uint8Array.from({ length: 4096 }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed >> 16 & 0xff;
  });
  files["svg.png"] = text(
    '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">' +
      '<rect width="64" height="64" fill="red"/></svg>\n',
  );
  files["postscript.png"] = text(
    "%!PS-Adobe-3.0\n%%BoundingBox: 0 0 64 64\nnewpath 0 0 moveto 64 64 lineto stroke\nshowpage\n",
  );
  return files;
}

/** What one request answered. */
interface Outcome {
  status: number;
  type: string | null;
  body: Uint8Array;
  bitmap?: Bitmap;
}

/** Requests at once: enough to keep both workers busy, few enough to stay within the queue. */
const CONCURRENCY = 4;

const presets = [{ name: "small", definition: "s,100x0" }];
const watermarks = [
  { name: "mark", storage: "files", path: "alpha.png", gravity: "sw", opacity: 0.7, scale: 0.3 },
  { name: "frame", storage: "files", path: "frame.png", gravity: "ne", scale: 0.5, margin: 7 },
];

/**
 * Starts a server on `backend`, or answers undefined when the backend's library is missing
 * (printing why), unless CI=true, where that fails.
 */
async function startOn(backend: BackendName, files: Record<string, Uint8Array>) {
  try {
    return await startTestServer(files, {
      backend,
      http: { workers: 2 },
      filters: presets,
      watermarks,
    });
  } catch (error) {
    if (!(error instanceof ConfigError) || Deno.env.get("CI") === "true") throw error;
    console.log(`skipped the ${backend} backend: ${error.message}`);
    return undefined;
  }
}

async function request(url: string): Promise<Outcome> {
  const response = await fetch(url);
  const body = new Uint8Array(await response.arrayBuffer());
  const bitmap = response.status === 200 ? await decode(body) : undefined;
  return { status: response.status, type: response.headers.get("content-type"), body, bitmap };
}

/** Runs the table on one server, `CONCURRENCY` requests at a time, then `afterwards` alone. */
async function runTable(url: string): Promise<Outcome[]> {
  const cases = table.map((item) => item.path);
  const outcomes: Outcome[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const index = next++;
      outcomes[index] = await request(`${url}/${cases[index]}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  outcomes.push(await request(`${url}/${afterwards.path}`));
  return outcomes;
}

/** Starts `backend`, runs the table on it and stops it; undefined when skipped. */
async function runBackend(
  backend: BackendName,
  files: Record<string, Uint8Array>,
): Promise<Outcome[] | undefined> {
  const server = await startOn(backend, files);
  if (!server) return undefined;
  try {
    return await runTable(server.url);
  } finally {
    await server.close();
  }
}

/** What one backend measured on one case, and what was wrong with its answer. */
interface Verdict {
  problems: string[];
  rgb?: number;
  alpha?: number;
}

/** Checks one backend's answer to one case against the table and the pure backend. */
function checkOutcome(backend: BackendName, item: Case, got: Outcome, reference: Outcome): Verdict {
  const what = `${backend}: ${item.path}`;
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string) => ok || problems.push(`${what}: ${problem}`);
  const body = got.status === 200 ? "" : ` (${new TextDecoder().decode(got.body)})`;
  expect(got.status === item.status, `answered ${got.status}${body}, expected ${item.status}`);
  expect(got.status === reference.status, `answered ${got.status}, pure ${reference.status}`);
  if (got.status !== item.status) return { problems };
  if (item.status !== 200) {
    expect(/^text\/plain/.test(got.type ?? ""), `an error as ${got.type}, not plain text`);
    return { problems };
  }
  expect(got.type === item.type, `Content-Type ${got.type}, expected ${item.type}`);
  const bitmap = got.bitmap!;
  const size = `${bitmap.width}x${bitmap.height}`;
  expect(size === item.size!.join("x"), `size ${size}, expected ${item.size!.join("x")}`);
  if (item.gray) {
    const tolerance = item.type === "image/jpeg" ? 2 : 1;
    const spread = grayDeviation(bitmap);
    expect(spread <= tolerance, `R, G and B differ by up to ${spread}`);
  }
  if (backend === "pure" || !reference.bitmap || problems.length > 0) return { problems };
  const rgb = psnr(bitmap, reference.bitmap);
  const alpha = psnr(bitmap, reference.bitmap, "alpha");
  const min = minPsnr[item.compare!];
  expect(rgb >= min, `PSNR ${rgb.toFixed(1)} dB against pure, expected at least ${min}`);
  expect(alpha >= min, `alpha PSNR ${alpha.toFixed(1)} dB against pure, expected at least ${min}`);
  return { problems, rgb, alpha };
}

function decibels(value: number): string {
  return value === Infinity ? "equal" : value.toFixed(1);
}

Deno.test("backends: imagemagick, graphicsmagick and vips answer the URL table like pure", async (t) => {
  const files = await makeFixtures();
  const cases = [...table, afterwards];
  const reference = await runBackend("pure", files);
  assert.ok(reference, "the pure backend always starts");
  const problems = cases.flatMap((item, i) =>
    checkOutcome("pure", item, reference[i], reference[i]).problems
  );
  const report: string[] = [];
  for (const backend of ["imagemagick", "graphicsmagick", "vips"] as const) {
    await t.step(backend, async () => {
      const outcomes = await runBackend(backend, files);
      if (!outcomes) return;
      cases.forEach((item, i) => {
        const verdict = checkOutcome(backend, item, outcomes[i], reference[i]);
        problems.push(...verdict.problems);
        if (verdict.rgb === undefined) return;
        const alpha = verdict.alpha === Infinity ? "" : `, alpha ${decibels(verdict.alpha!)}`;
        report.push(`${backend} ${item.path}: ${decibels(verdict.rgb)} dB${alpha}`);
      });
    });
  }
  // BACKENDS_PSNR=1 prints what was measured.
  if (Deno.env.get("BACKENDS_PSNR")) console.log(`PSNR against pure:\n${report.join("\n")}`);
  assert.deepEqual(problems, []);
});
