// Cross-backend parity sweep (kept in history only, removed in the next commit): one child
// server per backend, the same ~4600 requests to each (every filter at typical values and at its
// edges, every format, on 30 sources), each answer compared with pure's: status, Content-Type,
// size, GIF frames, mean absolute difference of premultiplied RGBA, alpha mean and the worst 8x8
// block. ~4 minutes.
//   deno run -A tests/zz_parity_sweep.ts [path-regex]
//   MAD=3 WORST=30 (thresholds, doubled for lossy formats), FORMAT=png (the chains' format),
//   SHRINK=fast|quality, PATHS="chain/format/files/name ..." (those requests only).
import { join } from "node:path";
import type { Bitmap } from "../lib/image/bitmap.ts";
import { sniffEncoded } from "../lib/image/sniff.ts";
import { decodeGifFrames } from "../lib/pure/gif.ts";
import { backendNames, type ChildServer, startBackendChild } from "./child_server.ts";
import { decode, encode, makeBitmap } from "./helpers.ts";
import { encodeAvif } from "../lib/image/avif.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";

async function run(cmd: string, ...args: string[]) {
  const { success, stderr } = await new Deno.Command(cmd, { args, stdout: "null" }).output();
  if (!success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

function exifSegment(orientation: number): Uint8Array {
  const tiff = [
    ...[0x4d, 0x4d, 0, 42, 0, 0, 0, 8],
    ...[0, 1],
    ...[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0],
    ...[0, 0, 0, 0],
  ];
  const body = [...new TextEncoder().encode("Exif\0\0"), ...tiff];
  const length = body.length + 2;
  return new Uint8Array([0xff, 0xe1, length >> 8, length & 255, ...body]);
}

function withExif(jpeg: Uint8Array, orientation: number): Uint8Array {
  const seg = exifSegment(orientation);
  const out = new Uint8Array(jpeg.length + seg.length);
  out.set(jpeg.subarray(0, 2));
  out.set(seg, 2);
  out.set(jpeg.subarray(2), 2 + seg.length);
  return out;
}

const uneven = (w: number, h: number) =>
  makeBitmap(w, h, (x, y) => [
    (x * 97 + y * 31) % 256,
    40 + (50 * y) % 200,
    200 - (60 * x) % 180,
    20 + (70 * x + 30 * y) % 236,
  ]);

/** 120x80 logo: a coloured disc, alpha falling off unevenly, transparent corners. */
const logo = makeBitmap(120, 80, (x, y) => {
  const d = Math.hypot(x - 60, y - 40) / 40;
  const a = d > 1 ? 0 : Math.round(255 * (1 - d * d) * (0.5 + 0.5 * Math.sin(x / 7)));
  return [200 + 55 * Math.sin(y / 9), 120 + 100 * Math.cos(x / 11), 60 + 50 * Math.sin(x / 5), a];
});

interface Source {
  name: string;
  size: [number, number];
}

async function fixtures(): Promise<{ files: Record<string, Uint8Array>; sources: Source[] }> {
  const dir = await Deno.makeTempDir({ prefix: "sweep-" });
  const p = (n: string) => join(dir, n);
  const files: Record<string, Uint8Array> = {};
  const sources: Source[] = [];
  const add = (name: string, bytes: Uint8Array, size: [number, number]) => {
    files[name] = bytes;
    sources.push({ name, size });
  };
  await run(
    "convert",
    "-size",
    "640x480",
    "-seed",
    "3",
    "plasma:fractal",
    "-quality",
    "90",
    p("photo.jpg"),
  );
  add("photo.jpg", await Deno.readFile(p("photo.jpg")), [640, 480]);
  const logoPng = await encode(logo, "png");
  await Deno.writeFile(p("logo.png"), logoPng);
  add("logo.png", logoPng, [120, 80]);
  await run("convert", p("logo.png"), "-depth", "16", "PNG64:" + p("deep.png"));
  add("deep.png", await Deno.readFile(p("deep.png")), [120, 80]);
  await run(
    "convert",
    p("photo.jpg"),
    "-resize",
    "160x120!",
    "-depth",
    "16",
    "PNG48:" + p("deep48.png"),
  );
  add("deep48.png", await Deno.readFile(p("deep48.png")), [160, 120]);
  await run(
    "convert",
    p("photo.jpg"),
    "-resize",
    "160x120!",
    "-colorspace",
    "Gray",
    "-define",
    "png:color-type=0",
    p("gray.png"),
  );
  add("gray.png", await Deno.readFile(p("gray.png")), [160, 120]);
  await run(
    "convert",
    p("logo.png"),
    "-colorspace",
    "Gray",
    "-define",
    "png:color-type=4",
    p("graya.png"),
  );
  add("graya.png", await Deno.readFile(p("graya.png")), [120, 80]);
  await run("convert", p("logo.png"), "PNG8:" + p("palette.png"));
  add("palette.png", await Deno.readFile(p("palette.png")), [120, 80]);
  // Animated GIF: 3 frames, a moving opaque box over transparent.
  for (let f = 0; f < 3; f++) {
    const frame = makeBitmap(
      80,
      60,
      (x, y) =>
        x >= 10 + f * 20 && x < 40 + f * 20 && y > 10 && y < 50
          ? [255 * (f === 0 ? 1 : 0), 255 * (f === 1 ? 1 : 0), 255 * (f === 2 ? 1 : 0), 255]
          : (x + y) % 10 < 5
          ? [20, 20, 20, 255]
          : [0, 0, 0, 0],
    );
    await Deno.writeFile(p(`f${f}.png`), await encode(frame, "png"));
  }
  await run(
    "convert",
    "-delay",
    "10",
    "-dispose",
    "background",
    p("f0.png"),
    p("f1.png"),
    p("f2.png"),
    "-loop",
    "0",
    p("anim.gif"),
  );
  add("anim.gif", await Deno.readFile(p("anim.gif")), [80, 60]);
  await run(
    "convert",
    "-delay",
    "10",
    p("f0.png"),
    p("f1.png"),
    p("f2.png"),
    "-layers",
    "optimize",
    "-loop",
    "0",
    p("animopt.gif"),
  );
  add("animopt.gif", await Deno.readFile(p("animopt.gif")), [80, 60]);
  // EXIF orientations of a 60x40 four-colour jpeg.
  const quads = makeBitmap(
    60,
    40,
    (x, y) =>
      y < 20
        ? (x < 30 ? [230, 20, 20, 255] : [20, 200, 20, 255])
        : (x < 30 ? [20, 20, 230, 255] : [255, 255, 255, 255]),
  );
  const quadsJpeg = await encode(quads, "jpeg", 95);
  for (let o = 1; o <= 8; o++) {
    add(`exif${o}.jpg`, withExif(quadsJpeg, o), o >= 5 ? [40, 60] : [60, 40]);
  }
  await run("convert", p("photo.jpg"), "-resize", "160x120!", "-colorspace", "CMYK", p("cmyk.jpg"));
  add("cmyk.jpg", await Deno.readFile(p("cmyk.jpg")), [160, 120]);
  await run("convert", p("photo.jpg"), "-resize", "160x120!", "-compress", "lzw", p("photo.tiff"));
  add("photo.tiff", await Deno.readFile(p("photo.tiff")), [160, 120]);
  await run(
    "convert",
    p("photo.jpg"),
    "-resize",
    "160x120!",
    "-colorspace",
    "Gray",
    "-quality",
    "90",
    p("grayjpg.jpg"),
  );
  add("grayjpg.jpg", await Deno.readFile(p("grayjpg.jpg")), [160, 120]);
  await run(
    "convert",
    p("photo.jpg"),
    "-resize",
    "160x120!",
    "-quality",
    "85",
    "-interlace",
    "JPEG",
    p("prog.jpg"),
  );
  add("prog.jpg", await Deno.readFile(p("prog.jpg")), [160, 120]);
  for (const [w, h] of [[1, 1], [2, 2], [1, 9], [9, 1], [7, 5], [3, 2]]) {
    add(`t${w}x${h}.png`, await encode(uneven(w, h), "png"), [w, h]);
  }
  add("t7x5.jpg", await encode(uneven(7, 5), "jpeg", 95), [7, 5]);
  add("opaque1x1.png", await encode(makeBitmap(1, 1, () => [10, 200, 90, 255]), "png"), [1, 1]);
  const photoSmall = await decode(files["photo.tiff"]);
  add("logo.avif", await encodeAvif(logo, 90), [120, 80]);
  add("photo.avif", await encodeAvif(photoSmall, 90), [160, 120]);
  add("logo.webp", await encodeBitmap(logo, { type: "webp", quality: 95 }), [120, 80]);
  add("logoll.webp", await encodeBitmap(logo, { type: "webp", quality: 95, lossless: true }), [
    120,
    80,
  ]);
  add(
    "photo.webp",
    await encodeBitmap(await decode(files["photo.jpg"]), { type: "webp", quality: 95 }),
    [640, 480],
  );
  await run("convert", p("photo.jpg"), "-resize", "7x5!", "-quality", "95", p("p7x5.jpg"));
  add("p7x5.jpg", await Deno.readFile(p("p7x5.jpg")), [7, 5]);
  await Deno.remove(dir, { recursive: true });
  return { files, sources };
}

const watermarks = ["n", "s", "e", "w", "ne", "nw", "se", "sw"].map((g) => ({
  name: `m${g}`,
  storage: "files",
  path: "logo.png",
  gravity: g,
  opacity: 0.6,
  scale: 0.3,
  margin: 5,
})).concat([
  {
    name: "full",
    storage: "files",
    path: "logo.png",
    gravity: "nw",
    opacity: 1,
    scale: 1,
    margin: 0,
  },
  {
    name: "faint",
    storage: "files",
    path: "logo.png",
    gravity: "se",
    opacity: 0.05,
    scale: 0.5,
    margin: 0,
  },
  {
    name: "zero",
    storage: "files",
    path: "logo.png",
    gravity: "se",
    opacity: 0,
    scale: 0.5,
    margin: 0,
  },
  {
    name: "tinym",
    storage: "files",
    path: "logo.png",
    gravity: "se",
    opacity: 1,
    scale: 0.001,
    margin: 0,
  },
  {
    name: "bigm",
    storage: "files",
    path: "logo.png",
    gravity: "ne",
    opacity: 1,
    scale: 0.5,
    margin: 10000,
  },
  {
    name: "photom",
    storage: "files",
    path: "photo.jpg",
    gravity: "sw",
    opacity: 0.8,
    scale: 0.4,
    margin: 3,
  },
  {
    name: "animm",
    storage: "files",
    path: "anim.gif",
    gravity: "sw",
    opacity: 0.8,
    scale: 0.4,
    margin: 3,
  },
  {
    name: "pixm",
    storage: "files",
    path: "t1x1.png",
    gravity: "sw",
    opacity: 1,
    scale: 0.4,
    margin: 0,
  },
]);

function chainsFor(s: Source): string[] {
  const [w, h] = s.size;
  const big = w * h >= 1000;
  const chains = [
    "none",
    "f,h",
    "f,v",
    "r,90",
    "r,180",
    "r,270",
    "gs",
    "b,0",
    "b,0.5",
    "b,2",
    "b,10",
    "sh,0.3",
    "sh,1",
    "sh,3",
    "sh,10",
    "br,-100",
    "br,-50",
    "br,50",
    "br,100",
    "ct,-100",
    "ct,-50",
    "ct,50",
    "ct,100",
    "sat,-100",
    "sat,-50",
    "sat,50",
    "sat,100",
    `pad,${w}x${h}`,
    `pad,${w + 1}x${h + 1}`,
    `pad,${w + 20}x${h + 7}:ff0000`,
    `pad,${w + 9}x${h + 30}:00ff0080`,
    `pad,${w + 4}x${h + 4}:00000000`,
    `pad,${w * 2}x${h}:ffffff`,
    "c,0x0-1x1",
    `c,${w - 1}x${h - 1}-10x10`,
    `c,${w >> 2}x${h >> 2}-${Math.max(1, w >> 1)}x${Math.max(1, h >> 1)}`,
    "s,1x1",
    "s,3x2",
    "s,2x3",
    "s,1x50",
    "s,50x1",
    "s,5x0",
    "s,0x5",
    "s,3x2-",
    "s,3x2+",
    `s,${w * 2}x0`,
    `s,${w * 3}x${h}`,
    `s,${w + 1}x${h + 1}`,
    "s,50x50-",
    "s,50x50+",
    "s,40x20-n",
    "s,40x20-s",
    "s,20x40-e",
    "s,20x40-w",
    "s,40x20-ne",
    "s,20x40-sw",
    "s,40x20-f0:0",
    "s,40x20-f1:1",
    "s,20x40-f0.3:0.8",
    "s,40x40-smart",
    "s,20x40-smart",
    "wm,mn",
    "wm,ms",
    "wm,me",
    "wm,mw",
    "wm,mne",
    "wm,mnw",
    "wm,mse",
    "wm,msw",
    "wm,full",
    "wm,faint",
    "wm,zero",
    "wm,tinym",
    "wm,bigm",
    "wm,photom",
    "wm,animm",
    "wm,pixm",
    "s,30x0,gs,b,1,sh,1,br,10,ct,10,sat,10",
    "r,90,f,h,c,0x0-5x5,pad,20x20:123456",
  ];
  chains.push(
    "b,50",
    "sh,10,b,3",
    "s,65535x1",
    "s,1x65535",
    "s,16384x1",
    `c,${w}x0-1x1`,
    "c,0x0-0x1",
  );
  if (big) {
    chains.push(
      `s,${w >> 1}x${h >> 1}`,
      `s,${Math.round(w / 3)}x0`,
      "s,333x111",
      "s,300x300-",
      "s,300x300+",
      "s,7x5",
      "b,50",
      "c,100x50-200x150",
      `c,${w - 40}x${h - 80}-100x100`,
      "s,200x100-smart",
      "s,2000x0",
      "s,16383x1",
      "s,1x16383",
    );
  }
  return chains;
}

const formats = [
  "png",
  "jpeg",
  "jpeg,1",
  "jpeg,100",
  "webp",
  "webp,1",
  "webp,100",
  "webp,lossless",
  "gif",
  "avif",
  "avif,1",
  "avif,100",
  "jxl",
  "auto",
  "info",
];

interface Req {
  path: string;
  accept?: string;
}

function requests(sources: Source[]): Req[] {
  const out: Req[] = [];
  for (const s of sources) {
    const format = Deno.env.get("FORMAT") ?? "png";
    for (const chain of chainsFor(s)) out.push({ path: `${chain}/${format}/files/${s.name}` });
    for (const f of formats) {
      out.push({ path: `none/${f}/files/${s.name}` });
      out.push({ path: `s,50x0/${f}/files/${s.name}` });
    }
    for (const accept of ["image/avif,image/webp,*/*", "image/webp", "image/jxl", "*/*", ""]) {
      out.push({ path: `s,30x0/auto/files/${s.name}`, accept });
    }
    if (s.name.endsWith(".gif")) {
      for (
        const chain of [
          "s,40x0",
          "r,90",
          "b,2",
          "sh,1",
          "wm,mse",
          "pad,100x100:ff000080",
          "gs",
          "c,5x5-30x30",
          "s,20x20-",
        ]
      ) {
        out.push({ path: `${chain}/gif/files/${s.name}` });
        out.push({ path: `${chain}/webp/files/${s.name}` });
      }
    }
  }
  return out;
}

interface Outcome {
  status: number;
  type: string | null;
  body: Uint8Array;
  bitmap?: Bitmap;
  frames?: number;
  error?: string;
}

async function fetchOne(server: ChildServer, req: Req): Promise<Outcome> {
  try {
    const response = await fetch(`${server.url}/${req.path}`, {
      headers: req.accept !== undefined ? { accept: req.accept } : {},
    });
    const body = new Uint8Array(await response.arrayBuffer());
    const out: Outcome = {
      status: response.status,
      type: response.headers.get("content-type"),
      body,
    };
    if (response.status === 200 && !out.type?.includes("json")) {
      try {
        out.bitmap = await decode(body);
        if (sniffEncoded(body) === "gif") out.frames = (await decodeGifFrames(body)).length;
      } catch (e) {
        out.error = `decode: ${(e as Error).message}`;
      }
    }
    return out;
  } catch (e) {
    return { status: -1, type: null, body: new Uint8Array(), error: (e as Error).message };
  }
}

function compare(a: Bitmap, b: Bitmap) {
  let sum = 0, asum = 0, bsum = 0;
  const n = a.width * a.height;
  const bs = Math.max(1, Math.min(8, a.width >> 2, a.height >> 2));
  const bw = Math.ceil(a.width / bs), bh = Math.ceil(a.height / bs);
  const blocks = new Float64Array(bw * bh);
  const counts = new Float64Array(bw * bh);
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = (y * a.width + x) * 4;
      const aa = a.data[i + 3], ba = b.data[i + 3];
      let d = Math.abs(aa - ba);
      for (let c = 0; c < 3; c++) {
        d += Math.abs(a.data[i + c] * aa / 255 - b.data[i + c] * ba / 255);
      }
      d /= 4;
      sum += d;
      asum += aa;
      bsum += ba;
      const k = Math.floor(y / bs) * bw + Math.floor(x / bs);
      blocks[k] += d;
      counts[k]++;
    }
  }
  let worst = 0;
  for (let k = 0; k < blocks.length; k++) worst = Math.max(worst, blocks[k] / counts[k]);
  return { mad: sum / n, alpha: (asum - bsum) / n, worst };
}

const filter = Deno.args[0] ? new RegExp(Deno.args[0]) : undefined;
const { files, sources } = await fixtures();
const names = await backendNames();
const servers = new Map<string, ChildServer>();
for (const b of names) {
  const s = await startBackendChild(files, b, {
    http: { workers: 1 },
    watermarks,
    image: { autoAvif: true, autoJxl: true, shrinkOnLoad: Deno.env.get("SHRINK") ?? "fast" },
  });
  if (s) servers.set(b, s);
}
const paths = Deno.env.get("PATHS");
const reqs = paths
  ? paths.split(" ").map((path) => ({ path }))
  : requests(sources).filter((r) => !filter || filter.test(r.path));
console.log(`${reqs.length} requests on ${[...servers.keys()].join(", ")}`);
const lines: string[] = [];
let done = 0;
const MAD = Number(Deno.env.get("MAD") ?? 3), WORST = Number(Deno.env.get("WORST") ?? 30);
async function one(req: Req) {
  const results = new Map<string, Outcome>();
  await Promise.all([...servers].map(async ([b, s]) => results.set(b, await fetchOne(s, req))));
  const ref = results.get("pure")!;
  for (const [b, o] of results) {
    const problems: string[] = [];
    if (o.status === 500 || o.status < 0) {
      problems.push(`STATUS ${o.status} ${new TextDecoder().decode(o.body).slice(0, 120)}`);
    }
    if (o.error) problems.push(o.error);
    if (b === "pure") {
      if (problems.length) {
        lines.push(`${req.path} [${req.accept ?? "-"}] pure: ${problems.join("; ")}`);
      }
      continue;
    }
    if (o.status !== ref.status) {
      problems.push(
        `status ${o.status} vs ${ref.status}: ${
          new TextDecoder().decode(o.status !== 200 ? o.body : ref.body).slice(0, 150)
        }`,
      );
    } else if (o.type !== ref.type) problems.push(`type ${o.type} vs ${ref.type}`);
    else if (o.status === 200 && o.type?.includes("json")) {
      const x = JSON.parse(new TextDecoder().decode(o.body)),
        y = JSON.parse(new TextDecoder().decode(ref.body));
      for (const k of ["width", "height", "alpha"]) {
        if (x[k] !== y[k]) problems.push(`info ${k} ${x[k]} vs ${y[k]}`);
      }
      for (const k of ["width", "height", "frames", "orientation"]) {
        if (x.source?.[k] !== y.source?.[k]) {
          problems.push(`info source.${k} ${x.source?.[k]} vs ${y.source?.[k]}`);
        }
      }
      const hex = (s: string) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));
      const da = hex(x.average).map((v, i) => Math.abs(v - hex(y.average)[i]));
      if (Math.max(...da) > 6) problems.push(`info average ${x.average} vs ${y.average}`);
    } else if (o.bitmap && ref.bitmap) {
      if (o.bitmap.width !== ref.bitmap.width || o.bitmap.height !== ref.bitmap.height) {
        problems.push(
          `size ${o.bitmap.width}x${o.bitmap.height} vs ${ref.bitmap.width}x${ref.bitmap.height}`,
        );
      } else {
        const c = compare(o.bitmap, ref.bitmap);
        const lossy = /jpeg|jpg|webp,1\b|webp\/|avif|jxl|auto|gif/.test(req.path.split("/")[1]);
        const mad = lossy ? MAD * 2 : MAD;
        if (c.mad > mad || Math.abs(c.alpha) > 2 || c.worst > (lossy ? WORST * 2 : WORST)) {
          problems.push(
            `mad ${c.mad.toFixed(2)} alpha ${c.alpha.toFixed(2)} worst ${c.worst.toFixed(1)}`,
          );
        }
      }
      if (o.frames !== ref.frames) problems.push(`frames ${o.frames} vs ${ref.frames}`);
    }
    if (problems.length) {
      lines.push(`${req.path} [${req.accept ?? "-"}] ${b}: ${problems.join("; ")}`);
    }
  }
  if (++done % 100 === 0) console.error(`${done}/${reqs.length}`);
}
let next = 0;
await Promise.all(Array.from({ length: 2 }, async () => {
  while (next < reqs.length) await one(reqs[next++]);
}));
for (const [b, s] of servers) {
  if (!s.alive()) lines.push(`${b} DIED`);
  await s.close();
}
console.log(lines.join("\n"));
console.log(`${lines.length} problems`);
