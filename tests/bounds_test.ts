// Every number a client writes in a URL or a header, at its edges (0, 1, -1, each limit ±1,
// 2^16, 2^31, 2^53, absurd spellings), on every backend: the exact status each must get, the
// size of every image served, and never a 5xx other than 503. BOUNDS_LONG=1 adds the full
// cross product (about 1,500 URLs a backend), which asserts only the last two.
import assert from "node:assert/strict";
import { probeImage } from "../lib/image/probe.ts";
import { sniffEncoded, sniffFormat } from "../lib/image/sniff.ts";
import { parseConfig } from "../lib/config/config.ts";
import { BadRequest } from "../lib/errors.ts";
import { planTransform } from "../lib/jobs/plan.ts";
import { parseChain, parseFormat } from "../lib/jobs/url.ts";
import {
  backendNames,
  type ChildServer,
  cpuDuring,
  peakRssSinceReset,
  resetPeakRss,
  rss,
  startBackendChild,
} from "./child_server.ts";
import { encode, makeBitmap, quiet, sleep } from "./helpers.ts";
import { animatedGif } from "./hostile_images.ts";

const LONG = Deno.env.get("BOUNDS_LONG") === "1";
// tests/run.ts names the reason in its summary.
if (!LONG) console.log("skipped: the two long sweeps (BOUNDS_LONG=1 runs them, ~6.5 min)");

/** The source every case reads: 64x48 with varying alpha. */
const W = 64;
const H = 48;
const files = {
  "a.png": await encode(makeBitmap(W, H, (x, y) => [x * 4, y * 5, 90, 60 + x + y]), "png"),
  "anim.gif": animatedGif(16, 16, 3),
  "mark.png": await encode(makeBitmap(20, 10, (x) => [255, 0, 0, x * 12]), "png"),
};
const config = {
  http: { workers: 2, timeout: "20s" },
  watermarks: [{ name: "mark", storage: "files", path: "mark.png", scale: 0.5 }],
  filters: [{ name: "small", definition: "s,32x0" }],
};

/** One request and what it must get: a status, and for a 200 the image's size. */
interface Case {
  path: string;
  /** 0: anything but a 422 or a 5xx other than 503. */
  status: number;
  size?: [number, number];
  headers?: Record<string, string>;
}

const ok = (path: string, width = W, height = H, headers?: Record<string, string>): Case => ({
  path,
  status: 200,
  size: [width, height],
  headers,
});
const bad = (path: string): Case => ({ path, status: 400 });

/** Spellings of a number that no integer or decimal argument accepts. */
const notNumbers = [
  "-1",
  "1e3",
  "0x10",
  "+5",
  "%205",
  "5%20",
  "%D9%A3", // ARABIC-INDIC DIGIT THREE
  "%EF%BC%95", // FULLWIDTH DIGIT FIVE
  "NaN",
  "Infinity",
  "1_0",
  "9".repeat(400),
];

/** The table: each filter's and each format's numbers at their edges. */
function cases(): Case[] {
  const png = (chain: string) => `/${chain}/png/files/a.png`;
  return [
    // s: sides 0..100000, not both 0; every format's side limit is tested in output_limits_test.
    ok(png("s,1x1"), 1, 1),
    ok(png("s,000001x1"), 1, 1),
    ok(png("s,1x0"), 1, 1),
    ok(png("s,0x1"), 1, 1),
    ok(png("s,100000x1"), 100_000, 1),
    ok(png("s,1x100000"), 1, 100_000),
    bad(png("s,100000x0")),
    bad(png("s,0x0")),
    bad(png("s,100001x1")),
    bad(png("s,1x100001")),
    bad(png("s,0000001x1")),
    bad(png("s,2147483648x1")),
    bad(png("s,9007199254740993x1")),
    ...notNumbers.map((n) => bad(png(`s,${n}x1`))),
    // A space is the fit modifier `+` (as a query string would write it), so "5 " is "5+".
    ...notNumbers.filter((n) => n !== "5%20").map((n) => bad(png(`s,1x${n}`))),
    ok(png("s,1x5%20"), 1, 1),
    bad(png("s,1.5x1")),
    bad(png("s,1x1x1")),
    // Focus points: fractions 0..1 with at most 6 decimals.
    ok(png("s,32x40-f0:0"), 32, 40),
    ok(png("s,32x40-f1:1"), 32, 40),
    ok(png("s,32x40-f1.000000:0.999999"), 32, 40),
    bad(png("s,32x40-f1.000001:0")),
    bad(png("s,32x40-f0:0.0000001")),
    bad(png("s,32x40-f-0:0")),
    bad(png("s,32x40-f.5:0")),
    bad(png("s,32x40-f0.5")),
    bad(png("s,32x40-fNaN:0")),
    ok(png("s,32x40-smart"), 32, 40),
    ok(png("s,32x40-se"), 32, 40),
    bad(png("s,32x40-c")),
    bad(png("s,32x40-SE")),
    // c: X, Y 0..100000; W, H 1..100000; clipped; no overlap at all is a 400.
    ok(png(`c,${W - 1}x${H - 1}-1x1`), 1, 1),
    ok(png("c,0x0-100000x100000"), W, H),
    ok(png("c,10x5-100000x100000"), W - 10, H - 5),
    bad(png(`c,${W}x0-1x1`)),
    bad(png(`c,0x${H}-1x1`)),
    bad(png("c,0x0-0x1")),
    bad(png("c,0x0-1x0")),
    bad(png("c,100001x0-1x1")),
    bad(png("c,0x0-100001x1")),
    bad(png("c,2147483648x0-1x1")),
    ...notNumbers.map((n) => bad(png(`c,${n}x0-1x1`))),
    // pad: W, H 1..100000, at least the image; the colour RRGGBB or RRGGBBAA.
    ok(png(`pad,${W}x${H}`)),
    ok(png(`pad,${W + 1}x${H + 1}:ff000080`), W + 1, H + 1),
    ok(png(`pad,${W}x${H}:FFFFFF`)),
    bad(png(`pad,${W - 1}x${H}`)),
    bad(png(`pad,${W}x${H - 1}`)),
    bad(png("pad,0x1")),
    bad(png("pad,100001x100")),
    bad(png("pad,2147483648x100")),
    bad(png(`pad,${W}x${H}:fff`)),
    bad(png(`pad,${W}x${H}:fffffff`)),
    bad(png(`pad,${W}x${H}:fffffffff`)),
    bad(png(`pad,${W}x${H}:gggggg`)),
    bad(png(`pad,${W}x${H}:%23ffffff`)),
    bad(png(`pad,${W}x${H}:`)),
    ...notNumbers.map((n) => bad(png(`pad,${n}x100`))),
    // b: 0..image.maxBlurSigma (50), any decimals; sharp refuses sigmas under 0.3 itself.
    ok(png("b,0")),
    ok(png("b,0.0")),
    ok(png("b,0.1")),
    ok(png("b,0.29")),
    ok(png("b,50")),
    ok(png("b,50.000000")),
    bad(png("b,50.0000001")),
    bad(png("b,51")),
    bad(png("b,.5")),
    bad(png("b,1.")),
    bad(png("b,2147483648")),
    bad(png("b,1e308")),
    ...notNumbers.map((n) => bad(png(`b,${n}`))),
    // sh: 0.3..10.
    ok(png("sh,0.3")),
    ok(png("sh,10")),
    ok(png("sh,10.000000")),
    bad(png("sh,0.29")),
    bad(png("sh,0")),
    bad(png("sh,10.000001")),
    bad(png("sh,11")),
    ...notNumbers.map((n) => bad(png(`sh,${n}`))),
    // br, ct, sat: integers -100..100.
    ...["br", "ct", "sat"].flatMap((f) => [
      ok(png(`${f},-100`)),
      ok(png(`${f},100`)),
      ok(png(`${f},-0`)),
      bad(png(`${f},101`)),
      bad(png(`${f},-101`)),
      bad(png(`${f},01`)),
      bad(png(`${f},1.5`)),
      bad(png(`${f},2147483648`)),
      ...notNumbers.filter((n) => n !== "-1").map((n) => bad(png(`${f},${n}`))),
    ]),
    // r: 90, 180, 270 only.
    ok(png("r,90"), H, W),
    ok(png("r,180")),
    ok(png("r,270"), H, W),
    ...["0", "360", "-90", "450", "4294967386", "090", "90.0"].map((d) => bad(png(`r,${d}`))),
    // Chains: image.maxChain (16) filters, presets expanded.
    ok(png(Array(16).fill("gs").join(",")), W, H),
    bad(png(Array(17).fill("gs").join(","))),
    ok(png(Array(16).fill("small").join(",")), 32, 24),
    bad(png(Array(17).fill("small").join(","))),
    bad(png(Array(5000).fill("gs").join(","))),
    ok(png("wm,mark")),
    ok(png("s,1x1,wm,mark"), 1, 1),
    // Qualities: 1..100, at most three digits.
    ...["jpeg", "webp", "avif", "jxl", "auto"].flatMap((format) => [
      ok(`/s,8x8/${format},1/files/a.png`, 8, 8),
      ok(`/s,8x8/${format},100/files/a.png`, 8, 8),
      ok(`/s,8x8/${format},001/files/a.png`, 8, 8),
      ...["0", "101", "0001", "1.5", "2147483648", ...notNumbers].map((q) =>
        bad(`/s,8x8/${format},${q}/files/a.png`)
      ),
    ]),
    bad("/s,8x8/png,50/files/a.png"),
    bad("/s,8x8/webp,lossless,1/files/a.png"),
  ];
}

/** Headers whose numbers and lists a client writes, on a request that is served. */
function headerCases(): Case[] {
  const path = "/s,20x10/png/files/a.png";
  const auto = "/s,20x10/auto/files/a.png";
  const modifiedSince = [
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "+275760-09-13T00:00:00.000Z",
    "0",
    "-1",
    "1e308",
    "NaN",
  ];
  return [
    ...modifiedSince.map((date) => ok(path, 20, 10, { "if-modified-since": date })),
    ok(path, 20, 10, { "if-none-match": `"${"x".repeat(6000)}"` }),
    ok(path, 20, 10, { "if-none-match": Array(1000).fill('"a"').join(",") }),
    { path, status: 304, headers: { "if-none-match": "*" } },
    ok(path, 20, 10, { range: "bytes=99999999999999999999-" }),
    ok(path, 20, 10, { range: "bytes=-0" }),
    ok(path, 20, 10, { "x-request-id": "x".repeat(129) }),
    ...[
      "image/webp;q=NaN",
      "image/webp;q=1e308",
      "image/webp;q=-1",
      "image/webp;q=0.0000001",
      Array(2000).fill("image/webp;q=0").join(","),
      "x".repeat(6000),
    ].map((accept) => ok(auto, 20, 10, { accept })),
  ];
}

/** What is wrong with one answer, or undefined. */
async function check(server: ChildServer, c: Case): Promise<string | undefined> {
  const response = await fetch(server.url + c.path, {
    headers: c.headers,
    signal: AbortSignal.timeout(20_000),
  });
  const body = new Uint8Array(await response.arrayBuffer());
  const what = () =>
    `${c.path.slice(0, 120)} ${JSON.stringify(c.headers ?? {}).slice(0, 60)}: ${response.status} ${
      response.status === 200
        ? `${body.length} bytes`
        : new TextDecoder().decode(body.subarray(0, 160))
    }`;
  if (c.status === 0) {
    const wrong = response.status === 422 || (response.status >= 500 && response.status !== 503);
    return wrong ? `got ${what()}` : undefined;
  }
  if (response.status !== c.status) return `expected ${c.status}, got ${what()}`;
  if (!c.size) return undefined;
  const type = sniffEncoded(body);
  if (!type || type === "info") return `not an image: ${what()}`;
  // JPEG XL is written, not read: its header is not probed here.
  const format = sniffFormat(body);
  if (type === "jxl" || !format) return type === "jxl" ? undefined : `unreadable: ${what()}`;
  const { width, height } = probeImage(body, format);
  if (width !== c.size[0] || height !== c.size[1]) {
    return `expected ${c.size.join("x")}, got ${width}x${height}: ${what()}`;
  }
}

/** Sends `cases` three at a time; answers every failure. */
async function sweep(server: ChildServer, all: Case[]): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < all.length) {
      const c = all[next++];
      try {
        const wrong = await check(server, c);
        if (wrong) failures.push(wrong);
      } catch (error) {
        failures.push(`${c.path.slice(0, 120)}: ${(error as Error).message.slice(0, 200)}`);
      }
    }
  };
  await Promise.all([lane(), lane(), lane()]);
  return failures;
}

Deno.test("bounds: every number in a URL or header at its edges gets its exact status and size, on every backend", async () => {
  const table = [...cases(), ...headerCases()];
  const failures: string[] = [];
  for (const backend of await backendNames()) {
    const server = await startBackendChild(files, backend, config);
    if (!server) continue;
    try {
      for (const wrong of await sweep(server, table)) failures.push(`[${backend}] ${wrong}`);
      assert.ok(server.alive(), `${backend}: the server died`);
      const health = await fetch(`${server.origin}/health`);
      assert.equal(health.status, 200, `${backend}: ${await health.text()}`);
    } finally {
      await server.close();
    }
  }
  assert.deepEqual(failures, [], failures.join("\n"));
});

// --- The largest request a number can make ---------------------------------------------------

const MiB = 1024 * 1024;

/** The watermark of `config`, with the defaults it takes, as parsing and planning see it. */
const markEntry = { ...config.watermarks[0], gravity: "se" as const, opacity: 1, margin: 0 };

/**
 * The largest N for which `chainOf(N)` to `format` of the source is planned on `backend` under
 * the default limits with `maxJobBytes`; 0 when none from 64 up is.
 */
function largestAllowed(
  chainOf: (n: number) => string,
  format: string,
  backend: string,
  maxJobBytes = 512 * MiB,
): number {
  const { image } = parseConfig({
    storages: [{ name: "files", type: "local", path: "." }],
    image: { maxJobBytes },
  }, "/");
  const context = {
    presets: new Map(),
    maxBlurSigma: image.maxBlurSigma,
    maxChain: image.maxChain,
    defaultQuality: 80,
    avifQuality: 50,
    watermarks: new Map([["mark", markEntry]]),
  };
  const planned = (n: number) => {
    try {
      const request = {
        chain: parseChain(chainOf(n), context),
        format: parseFormat(format, 80, 50),
        autoOrient: true,
        overlays: { mark: { width: 20, height: 10, format: "png" as const } },
      };
      const source = { width: W, height: H, orientation: 1, format: "png" as const };
      return planTransform(request, source, { ...image, timeoutMs: 30_000 }, { name: backend });
    } catch (error) {
      if (error instanceof BadRequest) return undefined;
      throw error;
    }
  };
  if (!planned(W)) return 0;
  let [allowed, refused] = [W, 100_001];
  while (refused - allowed > 1) {
    const n = Math.floor((allowed + refused) / 2);
    if (planned(n)) allowed = n;
    else refused = n;
  }
  return allowed;
}

/**
 * Encodes that cost more than the image they write, with the `image.maxJobBytes` each is tried
 * under (small, so the largest allowed runs in a few seconds) and how its plan once fell short.
 * Planned at the opaque figures, pure's largest transparent WebP under 128 MiB (3344x3344) grew
 * the server by 355 MiB (libwebp compresses the alpha plane losslessly); a JPEG of a transparent
 * image on the magick backends is written from a flattened copy (4096x4096 under 128 MiB); and
 * libvips's GIF writer holds 30–40 B a pixel (4096x4096 under 64 MiB).
 */
const costlyEncodes: { backend: string; format: "webp" | "jpeg" | "gif"; maxJobBytes: number }[] = [
  { backend: "pure", format: "webp", maxJobBytes: 128 * MiB },
  { backend: "imagemagick", format: "jpeg", maxJobBytes: 128 * MiB },
  { backend: "graphicsmagick", format: "jpeg", maxJobBytes: 128 * MiB },
  { backend: "vips", format: "gif", maxJobBytes: 64 * MiB },
];

Deno.test("bounds: the largest costly encode of a transparent image that image.maxJobBytes allows stays within it", async () => {
  const installed = await backendNames();
  const failures: string[] = [];
  for (const { backend, format, maxJobBytes } of costlyEncodes) {
    if (!installed.includes(backend)) continue;
    const side = largestAllowed((n) => `s,${n}x${n}`, format, backend, maxJobBytes);
    const server = await startBackendChild(files, backend, {
      http: { workers: 1, timeout: "60s" },
      image: { maxJobBytes },
    });
    if (!server) continue;
    try {
      // Warm at half the side: a job as heavy (on vips, one that starts the worker's job process,
      // whose own memory is the worker's, not the job's).
      const half = side >> 1;
      const warm = await fetch(`${server.url}/s,${half}x${half}/${format}/files/a.png`);
      assert.equal(warm.status, 200, await warm.text());
      await quiet(server.pid);
      const base = await rss(server.pid);
      await resetPeakRss(server.pid);
      const path = `/s,${side}x${side}/${format}/files/a.png`;
      const answer = await fetch(server.url + path);
      const body = new Uint8Array(await answer.arrayBuffer());
      const grew = await peakRssSinceReset(server.pid) - base;
      assert.equal(answer.status, 200, new TextDecoder().decode(body.subarray(0, 300)));
      assert.equal(sniffEncoded(body), format);
      const margin = 48 * MiB;
      console.log(`${backend} ${path}: +${(grew / MiB).toFixed(0)} MiB`);
      if (grew > maxJobBytes + margin) {
        failures.push(
          `[${backend}] ${path} grew the server by ${(grew / MiB).toFixed(0)} MiB: over ` +
            `image.maxJobBytes (${maxJobBytes / MiB} MiB) + ${margin / MiB}`,
        );
      }
    } finally {
      await server.close();
    }
  }
  assert.deepEqual(failures, [], failures.join("\n"));
});

/**
 * How long after its 503 the server may still work: the half second a cancelled job may take (on
 * vips the job's process is killed, and none starts until a job needs one).
 */
const settleMs: Record<string, number> = { graphicsmagick: 500, vips: 500 };

Deno.test("bounds: pad's largest canvas stops at the deadline, its border painted strip by strip", async () => {
  // Painted a pixel at a time with no cancellation check, the border of the largest pad ran on
  // for 0.6 s (GraphicsMagick, 4634x4634) and 1.4 s (vips, 7071x7071) after the 503.
  const failures: string[] = [];
  const installed = await backendNames();
  for (const [backend, settle] of Object.entries(settleMs)) {
    if (!installed.includes(backend)) continue;
    const server = await startBackendChild(files, backend, {
      ...config,
      http: { workers: 1, timeout: "1s" },
    });
    if (!server) continue;
    try {
      const n = largestAllowed((n) => `pad,${n}x${n}:ff000080`, "png", backend);
      await quiet(server.pid);
      const answer = await fetch(`${server.url}/pad,${n}x${n}:ff000080/png/files/a.png`);
      await answer.arrayBuffer();
      await sleep(settle);
      const cpu = await cpuDuring(server.pid, 1000);
      if (answer.status !== 503 || cpu > 0.2) {
        failures.push(
          `[${backend}] pad,${n}x${n}: ${answer.status}, then ${cpu.toFixed(2)} s of CPU ` +
            `${settle / 1000}-${settle / 1000 + 1} s after it`,
        );
      }
    } finally {
      await server.close();
    }
  }
  assert.deepEqual(failures, [], failures.join("\n"));
});

// --- The cross product, behind BOUNDS_LONG=1 ----------------------------------------------------

const numbers = [
  ...["0", "1", "2", "100", "16383", "16384", "65499", "65500", "65501", "65535", "65536"],
  ...["99999", "100000", "100001", "2147483647", "2147483648", "9007199254740993", "1e308"],
  ...["0000000000000000000005", "1.5", "1.", ".5", "-0", "0.0", "5%00", ""],
  ...notNumbers,
];
const fractions = ["0", "1", "0.5", "1.0", "1.000001", "1.0000001", "-0", ".5", "NaN", "2", ""];
const sigmas = ["0.1", "0.3", "0.29", "9.99", "10", "10.000001", "49", "50", "50.1", ...numbers];
const colors = ["", "fff", "ffffff", "ffffff00", "ffffff0", "gggggg", "%23ffffff", "ffffff%00"];
const gravities = ["n", "se", "c", "", "smart", "SMART", "f", "f:", "f1", "nn"];

/** Every number in every position, each filter alone and at the largest sides around it. */
function crossProduct(): Case[] {
  const paths: string[] = [];
  const png = (chain: string) => paths.push(`/${chain}/png/files/a.png`);
  for (const n of numbers) {
    for (const m of ["1", "0", n]) {
      png(`s,${n}x${m}`);
      png(`s,${m}x${n}+`);
      paths.push(`/s,${n}x${m}-/jpeg/files/a.png`);
    }
    for (const c of [`${n}x0-10x10`, `0x${n}-10x10`, `0x0-${n}x10`, `63x47-${n}x${n}`]) {
      png(`c,${c}`);
    }
    png(`pad,${n}x100`);
    png(`pad,100x${n}:ff0000`);
    png(`r,${n}`);
    png(`s,${n}x1,s,1x${n}`);
    png(`s,50x50-f${n}:0.5`);
    for (const format of ["jpeg", "webp", "avif", "jxl", "auto", "png"]) {
      paths.push(`/s,8x8/${format},${n}/files/a.png`);
    }
  }
  for (const f of fractions) png(`s,20x40-f${f}:0.5`), png(`s,100000x1-f0.5:${f}`);
  for (const s of sigmas) png(`b,${s}`), png(`sh,${s}`), png(`s,1x16383,b,${s}`);
  for (const l of ["101", "-101", "+1", "01", "1.5", ...numbers]) {
    for (const f of ["br", "ct", "sat"]) png(`${f},${l}`);
  }
  for (const c of colors) png(`pad,100x100:${c}`);
  for (const g of gravities) {
    png(`s,30x30-${g}`);
    paths.push(`/s,65535x1-${g}/gif/files/a.png`, `/s,1x16383-${g}/webp/files/a.png`);
  }
  for (const w of ["mark", "", "mark%00", "constructor", "x".repeat(1000)]) {
    png(`wm,${w}`);
    paths.push(`/s,65535x1,wm,${w}/gif/files/a.png`, `/s,1x16383,wm,${w}/webp/files/a.png`);
  }
  for (const n of [15, 16, 17, 1000]) {
    for (const step of ["gs", "b,50", "small", "s,1x1,s,100000x1"]) {
      png(Array(n).fill(step).join(","));
    }
  }
  for (const p of ["%", "%zz", "%c0%af", "%ed%a0%80", "a%00.png", "x".repeat(4000), "a.png%2f"]) {
    paths.push(`/gs/png/files/${p}`, `/gs/png/${p}/a.png`);
  }
  // Any status but a 5xx other than 503, and no 422: the source is sound, so a 422 would be
  // a client's number breaking a decoder.
  return paths.map((path) => ({ path, status: 0 }));
}

Deno.test({
  name: "bounds: the cross product of numbers and filters never gets a 5xx but 503, nor a 422",
  ignore: !LONG,
  async fn() {
    const table = crossProduct();
    const failures: string[] = [];
    for (const backend of await backendNames()) {
      const server = await startBackendChild(files, backend, config);
      if (!server) continue;
      try {
        for (const wrong of await sweep(server, table)) failures.push(`[${backend}] ${wrong}`);
        const health = await fetch(`${server.origin}/health`);
        assert.equal(health.status, 200, `${backend}: ${await health.text()}`);
      } finally {
        await server.close();
      }
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  },
});

/** Each filter at the largest size the default limits allow from the source, by N. */
const largestChains: [string, (n: number) => string][] = [
  ["png", (n) => `s,${n}x${n}`],
  ["jpeg", (n) => `s,${n}x${n}`],
  ["gif", (n) => `s,${n}x${n}`],
  ["info", (n) => `s,${n}x${n}`],
  ["png", (n) => `s,${n}x${Math.round(n / 2)}-smart`],
  ["png", (n) => `s,100000x${n}`],
  ["png", (n) => `pad,${n}x${n}:ff000080`],
  ...["b,50", "sh,10", "r,90", "f,h", "gs", "br,50", "sat,50", "wm,mark"].map((
    step,
  ): [string, (n: number) => string] => ["png", (n) => `s,${n}x${n},${step}`]),
  ["png", (n) => `s,${n}x${n},c,1x1-${n}x${n}`],
];

Deno.test({
  name:
    "bounds: each filter's largest request at the default limits gets its 503 at a 1 s timeout, and the CPU goes quiet",
  ignore: !LONG,
  async fn() {
    const failures: string[] = [];
    for (const backend of await backendNames()) {
      const server = await startBackendChild(files, backend, {
        ...config,
        http: { workers: 1, timeout: "1s" },
      });
      if (!server) continue;
      try {
        for (const [format, chainOf] of largestChains) {
          const n = largestAllowed(chainOf, format, backend);
          if (!n) continue;
          const path = `/${chainOf(n)}/${format}/files/a.png`;
          await quiet(server.pid);
          const answer = await fetch(server.url + path);
          await answer.arrayBuffer();
          // Half a second to stop, then a second and a half that must be (nearly) idle.
          await sleep(500);
          const cpu = await cpuDuring(server.pid, 1500);
          console.log(`${backend} ${path}: ${answer.status}, then ${cpu.toFixed(2)} s of CPU`);
          if (answer.status !== 503 && answer.status !== 200) {
            failures.push(`[${backend}] ${path}: ${answer.status}`);
          }
          if (cpu > 0.5) {
            failures.push(`[${backend}] ${path}: ${cpu.toFixed(2)} s of CPU 0.5-2 s after it`);
          }
        }
      } finally {
        await server.close();
      }
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  },
});
