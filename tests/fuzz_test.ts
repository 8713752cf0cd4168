// Hardening: one running server gets tens of thousands of mutated or random URLs and hundreds
// of bit-flipped or truncated images. Every answer must be a 2xx or 4xx (a 503 only when it
// says the server is busy or timed out), every request must finish, and the server must stay
// healthy without its memory running away. The random choices come from a fixed seed, so a
// failure repeats.
import assert from "node:assert/strict";
import { join } from "node:path";
import { contentTypes } from "../lib/image/formats.ts";
import { sniffEncoded } from "../lib/image/sniff.ts";
import { backendNames, type ChildServer, startBackendChild } from "./child_server.ts";
import { requireCommand, startTestServer, type TestServer } from "./helpers.ts";
import {
  animatedGif,
  duplicatedWidthTiff,
  manyScanJpeg,
  multiPageTiff,
  progressiveJpeg,
} from "./hostile_images.ts";
import { boundaryUrls, builtInUrls, grammarUrl } from "./url_grammar.ts";

/** FUZZ_SEED repeats another run; every failure message names the seed it came from. */
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20240611);
/** FUZZ_LONG=1: ten times the URLs, for a run outside `deno task test`. */
const LONG = Deno.env.get("FUZZ_LONG") === "1";
const URL_COUNT = LONG ? 200_000 : 8_000;
/** URLs sent before the memory baseline is taken, enough for the heaps to reach their size. */
const WARM_UP_URLS = 3_000;
const VARIANTS_PER_IMAGE = LONG ? 1_000 : 120;
const CONCURRENCY = 16;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_RSS_GROWTH = 300 * 1024 * 1024;

/** mulberry32: a tiny, fast PRNG with a 32-bit state; answers floats in [0, 1). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const random = prng(SEED);
const below = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[below(items.length)];

const seeds = [
  "/s,100x0/png/files/a.jpg",
  "/c,1x1-10x10,r,90,gs/jpeg,80/files/a.png",
  "/b,2,f,h/png/files/a.gif",
  "/s,40x30-,f,v/webp,60/files/a.tif",
  "/s,50x50+,r,270/auto,70/files/a.webp",
  "/gs,b,0.5/webp,lossless/files/a.jpg",
  "/s,0x20/gif/files/a.gif",
  "/c,60x40-100x100/jpg/files/a.png",
];

/** Characters and pieces that URL parsers tend to trip over. */
const pieces = [
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  ..."0123456789,,,xxx+++---%%%...///\\\\\\000",
  ..."!\"#$&'()*:;<=>?@[]^_`{|}~ \t",
  "%00",
  "%2F",
  "%2f",
  "%2e",
  "%2E%2E",
  "%ff",
  "%5C",
  "%20",
  "%2B",
  "%",
  "%zz",
  "..",
  "./",
  "//",
  "99999999999999999999",
  "4294967296",
  "1e308",
  "-1",
  "NaN",
  "Infinity",
  "0x10",
  "é",
  "ß",
  "😀",
  "\u202e",
  "\ufeff",
  "\u0000",
  "s,",
  "gs,",
  "b,",
  "c,",
  "r,",
  "f,",
  "png",
  "jpeg,",
  "files/",
  "a.jpg",
];

function mutate(text: string): string {
  let out = text;
  for (let n = 1 + below(4); n > 0; n--) {
    const at = below(out.length + 1);
    const operation = below(3);
    if (operation === 0) out = out.slice(0, at) + pick(pieces) + out.slice(at);
    if (operation === 1) out = out.slice(0, at) + out.slice(at + 1 + below(3));
    if (operation === 2) out = out.slice(0, at) + pick(pieces) + out.slice(at + 1);
  }
  return out;
}

function randomPath(): string {
  let out = "/";
  for (let n = below(40); n > 0; n--) out += pick(pieces);
  return out;
}

/** Mostly mutated valid URLs, some entirely random ones. */
function fuzzedPaths(count: number): string[] {
  return Array.from(
    { length: count },
    () => (random() < 0.85 ? mutate(pick(seeds)) : randomPath()),
  );
}

/** 1..20 bit flips, half of them within the first 64 bytes, where the headers are. */
function flipBits(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let n = 1 + below(20); n > 0; n--) {
    const at = random() < 0.5 ? below(Math.min(64, out.length)) : below(out.length);
    out[at] ^= 1 << below(8);
  }
  return out;
}

function truncate(bytes: Uint8Array): Uint8Array {
  return bytes.slice(0, below(bytes.length));
}

function damage(bytes: Uint8Array): Uint8Array {
  const kind = below(3);
  if (kind === 0) return flipBits(bytes);
  if (kind === 1) return truncate(bytes);
  return truncate(flipBits(bytes));
}

/** The pristine sources, 64x48, made by ImageMagick from a deterministic plasma. */
const originals: Record<string, string[]> = {
  "a.jpg": ["-quality", "85"],
  "a.png": ["-alpha", "set", "-channel", "A", "-evaluate", "set", "60%", "+channel"],
  "a.gif": ["(", "+clone", "-negate", ")"],
  "a.tif": ["-depth", "8", "-compress", "LZW"],
  "a.webp": ["-quality", "80"],
};

async function makeOriginals(): Promise<Record<string, Uint8Array>> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-fuzz-" });
  try {
    const files: Record<string, Uint8Array> = {};
    for (const [name, options] of Object.entries(originals)) {
      const args = ["-size", "64x48", "-seed", "7", "plasma:fractal", ...options, join(dir, name)];
      const { success, stderr } = await new Deno.Command("convert", { args }).output();
      const reason = `convert ${name}: ${new TextDecoder().decode(stderr)}`;
      if (success) files[name] = await Deno.readFile(join(dir, name));
      else if (name.endsWith(".webp")) console.log(`fuzz: no WebP source (${reason})`);
      else throw new Error(reason);
    }
    return files;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes the damaged variants under files/m/ and answers the URLs to request for them. */
async function writeDamaged(server: TestServer, files: Record<string, Uint8Array>) {
  await Deno.mkdir(join(server.dir, "files", "m"));
  const paths: string[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    for (let i = 0; i < VARIANTS_PER_IMAGE; i++) {
      const file = `m/${i}-${name}`;
      await Deno.writeFile(join(server.dir, "files", file), damage(bytes));
      paths.push(`/s,40x0/png/files/${file}`, `/gs/png/files/${file}`);
      if (name.endsWith(".gif")) paths.push(`/s,32x0/gif/files/${file}`);
    }
  }
  return paths;
}

interface Tally {
  statuses: Map<string, number>;
  failures: string[];
  slowest: { ms: number; path: string };
}

function acceptable(status: number, body: string): boolean {
  if (status === 503) return /busy|timed out/.test(body);
  return status >= 200 && status < 500;
}

/**
 * Requests one path, appended to the base as a string (`fetch` then resolves dot segments);
 * anything but a proper answer in time is a failure.
 */
async function probe(base: string, path: string, tally: Tally): Promise<void> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), REQUEST_TIMEOUT_MS);
  const started = performance.now();
  try {
    const response = await fetch(base + path, { signal: deadline.signal });
    const body = await response.text();
    count(tally, String(response.status));
    const ms = performance.now() - started;
    if (ms > tally.slowest.ms) tally.slowest = { ms, path };
    if (!acceptable(response.status, body)) {
      tally.failures.push(`${response.status} ${JSON.stringify(path)}: ${body.trim()}`);
    }
  } catch (error) {
    count(tally, "failed");
    tally.failures.push(`${JSON.stringify(path)}: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

function count(tally: Tally, key: string): void {
  tally.statuses.set(key, (tally.statuses.get(key) ?? 0) + 1);
}

/** Sends every path, CONCURRENCY at a time. */
async function sendAll(base: string, paths: string[], tally: Tally): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < paths.length) await probe(base, paths[next++], tally);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}

const megabytes = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

const haveConvert = await requireCommand("convert");

Deno.test({
  name: "fuzz: mutated URLs and damaged images get a 2xx or 4xx, never a 500 or a hang",
  ignore: !haveConvert,
  async fn() {
    const files = await makeOriginals();
    const server = await startTestServer(files, { http: { workers: 2, timeout: "5s" } });
    try {
      const tally: Tally = { statuses: new Map(), failures: [], slowest: { ms: 0, path: "" } };
      const started = performance.now();
      await sendAll(server.url, [...seeds, ...fuzzedPaths(WARM_UP_URLS)], tally);
      const warm = Deno.memoryUsage().rss;
      await sendAll(server.url, fuzzedPaths(URL_COUNT - WARM_UP_URLS), tally);
      await sendAll(server.url, await writeDamaged(server, files), tally);
      const rss = Deno.memoryUsage().rss;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const statuses = [...tally.statuses].sort().map(([key, n]) => `${key}: ${n}`).join(", ");
      console.log(`fuzz: ${statuses} in ${seconds} s`);
      const { ms, path } = tally.slowest;
      console.log(`fuzz: the slowest answer took ${Math.round(ms)} ms: ${JSON.stringify(path)}`);
      console.log(`fuzz: rss ${megabytes(warm)} after warm-up, ${megabytes(rss)} at the end`);

      assert.deepEqual(
        tally.failures.slice(0, 20),
        [],
        `${tally.failures.length} bad answers (FUZZ_SEED=${SEED})`,
      );
      const health = await fetch(new URL("/health", server.url));
      assert.equal(health.status, 200, await health.text());
      const normal = await fetch(`${server.url}${seeds[0]}`);
      assert.equal(normal.status, 200, await normal.text());
      assert.ok(rss - warm < MAX_RSS_GROWTH, `rss grew by ${megabytes(rss - warm)}`);
    } finally {
      await server.close();
    }
  },
});

// --- The grammar, against every backend ---------------------------------------------------------

/** Requests per batch; after each, the server must still answer /health. */
const BATCH = 100;
/** Random grammar URLs per backend: mixes of what bounds_test sends one number at a time. */
const GRAMMAR_URLS = LONG ? 5_000 : 100;
/** Groups of identical, uncached requests sent at once (single flight), per backend. */
const DUPLICATE_GROUPS = LONG ? 40 : 4;
const DUPLICATES = 8;
/**
 * The fuzz server's limits: the output limit big enough for every format's side limit (65500x1),
 * both small enough that the boundary values around them cost little work.
 */
const MAX_OUTPUT_SIDE = 500;
const MAX_OUTPUT_PIXELS = MAX_OUTPUT_SIDE ** 2;
const MAX_BLUR_SIGMA = 5;

/** Its own sequence, so the grammar URLs do not depend on which tests ran before. */
const grammarRandom = prng(SEED + 1);

/** Hostile sources beside the plain ones: animation, pages, many scans. */
async function hostileSources(): Promise<Record<string, Uint8Array>> {
  return {
    "anim.gif": animatedGif(32, 32, 20),
    "pages.tif": await multiPageTiff(32, 512, 3),
    "scans.jpg": await manyScanJpeg(64, 150),
    "scans100.jpg": await progressiveJpeg(64, 100),
    "scans101.jpg": await progressiveJpeg(64, 101),
    "dup.tif": duplicatedWidthTiff([100_000, 10], 40),
  };
}

/**
 * What is wrong with one answer, or undefined: a 2xx must be what its type names (an image, or
 * for `info` a JSON object with the result's size).
 */
function wrongAnswer(status: number, type: string | null, body: Uint8Array): string | undefined {
  if (status >= 500 && status !== 503) return `${status}: ${new TextDecoder().decode(body)}`;
  if (status !== 200) return undefined;
  const format = sniffEncoded(body);
  if (!format || contentTypes[format] !== type || (format === "info" && !isInfo(body))) {
    return `200 with ${body.length} bytes of ${format ?? "no image"} as ${type}`;
  }
}

function isInfo(body: Uint8Array): boolean {
  try {
    const answer = JSON.parse(new TextDecoder().decode(body));
    return Number.isInteger(answer.width) && Number.isInteger(answer.height);
  } catch {
    return false;
  }
}

interface Sent {
  path: string;
  status: number;
  body: Uint8Array;
}

/** Requests in flight at once against the grammar's server: twice its workers. */
const GRAMMAR_CONCURRENCY = 4;

/**
 * Sends `paths`, GRAMMAR_CONCURRENCY at a time; answers each status, and every failure in
 * `failures`.
 */
async function sendBatch(base: string, paths: string[], failures: string[]): Promise<Sent[]> {
  const sent: Sent[] = [];
  let next = 0;
  const lane = async () => {
    while (next < paths.length) {
      const path = paths[next++];
      const deadline = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
      try {
        const response = await fetch(base + path, { signal: deadline });
        const body = new Uint8Array(await response.arrayBuffer());
        const wrong = wrongAnswer(response.status, response.headers.get("content-type"), body);
        if (wrong) failures.push(`${JSON.stringify(path)}: ${wrong.slice(0, 300)}`);
        sent.push({ path, status: response.status, body });
      } catch (error) {
        failures.push(`${JSON.stringify(path)}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: GRAMMAR_CONCURRENCY }, lane));
  return sent;
}

/** /health answers "ok" within a few seconds (a worker may still be winding down a deadline). */
async function healthy(server: ChildServer): Promise<string | undefined> {
  let last = "";
  for (let waited = 0; waited < 5000; waited += 100) {
    if (!server.alive()) return "the server process ended";
    try {
      const response = await fetch(`${server.origin}/health`);
      last = `${response.status} ${await response.text()}`;
      if (response.status === 200 && JSON.parse(last.slice(4)).status === "ok") return undefined;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return `/health: ${last}`;
}

/** Groups of identical requests at once; each group's answers must agree, byte for byte. */
async function duplicates(server: ChildServer, failures: string[]): Promise<void> {
  for (let group = 0; group < DUPLICATE_GROUPS; group++) {
    // A size no other request used, so the group starts with an empty result cache.
    const format = ["png", "jpeg", "webp"][group % 3];
    const source = ["a.jpg", "a.png", "a.tif"][group % 3];
    const path = `/s,${300 + group}x0,b,${1 + group % 5}/${format}/files/${source}`;
    const sent = await sendBatch(server.url, Array(DUPLICATES).fill(path), failures);
    const statuses = new Set(sent.map((answer) => answer.status));
    if (statuses.size > 1 && !statuses.has(503)) {
      failures.push(`${path} x${DUPLICATES}: statuses ${[...statuses]}`);
    }
    const bodies = new Set(
      sent.filter((a) => a.status === 200).map((a) => a.body.join(",")),
    );
    if (bodies.size > 1) failures.push(`${path} x${DUPLICATES}: ${bodies.size} different bodies`);
  }
}

Deno.test({
  name:
    "fuzz: grammar URLs with boundary numbers and built-in names, on every backend, never a 5xx but 503",
  ignore: !haveConvert,
  async fn() {
    const files = { ...await makeOriginals(), ...await hostileSources() };
    const sources = Object.keys(files);
    const paths = [
      ...builtInUrls(),
      ...boundaryUrls(MAX_OUTPUT_SIDE),
      ...Array.from(
        { length: GRAMMAR_URLS },
        () => grammarUrl(grammarRandom, sources, MAX_OUTPUT_SIDE, MAX_BLUR_SIGMA),
      ),
    ];
    const problems: string[] = [];
    for (const backend of await backendNames()) {
      const server = await startBackendChild(files, backend, {
        http: { workers: 2, timeout: "5s" },
        image: { maxOutputPixels: MAX_OUTPUT_PIXELS, maxBlurSigma: MAX_BLUR_SIGMA },
        filters: [{ name: "small", definition: "s,100x0" }],
      }, { maxRss: 2048 * 1024 * 1024 });
      if (!server) continue;
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      const busy: string[] = [];
      const started = performance.now();
      try {
        for (let at = 0; at < paths.length && server.alive(); at += BATCH) {
          const batch = paths.slice(at, at + BATCH);
          for (const { status, path } of await sendBatch(server.url, batch, failures)) {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status === 503) busy.push(path);
          }
          const sick = await healthy(server);
          if (sick) failures.push(`after URLs ${at}..${at + batch.length}: ${sick}`);
        }
        if (server.alive()) await duplicates(server, failures);
        const sick = await healthy(server);
        if (sick) failures.push(`after the duplicates: ${sick}`);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        const counts = [...statuses].sort().map(([status, n]) => `${status}: ${n}`).join(", ");
        const peak = megabytes(server.peakRss());
        console.log(`fuzz ${backend}: ${counts} in ${seconds} s, peak RSS ${peak}`);
        if (busy.length) {
          console.log(`fuzz ${backend}: the first 503s: ${busy.slice(0, 5).join(" ")}`);
        }
        if (failures.length) {
          problems.push(
            `${backend}: ${failures.length} bad answers, the first ones:`,
            ...failures.slice(0, 15),
            `${backend} server output: ${server.output().slice(-1000)}`,
          );
        }
      } finally {
        await server.close();
      }
    }
    assert.deepEqual(problems, [], `FUZZ_SEED=${SEED}`);
  },
});
