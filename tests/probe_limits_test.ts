import assert from "node:assert/strict";
import { MAX_JPEG_SCANS, probeImage } from "../lib/image/probe.ts";
import { Unprocessable } from "../lib/errors.ts";
import { encodeBitmap } from "../lib/pure/encode.ts";
import { photoLike } from "./helpers.ts";
import { scanCount, withScans } from "./jpeg_markers.ts";

const progressive = await encodeBitmap(photoLike(96, 64), {
  type: "jpeg",
  quality: 80,
  progressive: true,
});

function refusedAs(bytes: Uint8Array, format: "jpeg" | "tiff", text: RegExp) {
  assert.throws(() => probeImage(bytes, format), (error: Error) => {
    assert.ok(error instanceof Unprocessable, error.message);
    assert.match(error.message, text);
    return true;
  });
}

Deno.test("probe: JPEG scans are counted over the whole file, at most 100", async () => {
  assert.equal(MAX_JPEG_SCANS, 100);
  const hundred = withScans(progressive, 100);
  assert.equal(scanCount(hundred), 100);
  assert.deepEqual(probeImage(hundred, "jpeg").width, 96);
  for (const scans of [101, 102, 10_000]) {
    refusedAs(
      withScans(progressive, scans),
      "jpeg",
      /^Cannot read the JPEG header: the file has more than 100 scans$/,
    );
  }
  // Baseline files (one scan) and the progressive original pass.
  assert.equal(probeImage(progressive, "jpeg").height, 64);
  const baseline = await encodeBitmap(photoLike(96, 64), { type: "jpeg", quality: 80 });
  assert.equal(probeImage(baseline, "jpeg").width, 96);
});

Deno.test("probe: the headers depth (job planning) stops at the first scan; the whole depth (the worker) still refuses", () => {
  const tooMany = withScans(progressive, 10_000);
  const planned = probeImage(tooMany, "jpeg", "headers");
  assert.deepEqual([planned.width, planned.height, planned.orientation], [96, 64, 1]);
  refusedAs(tooMany, "jpeg", /more than 100 scans/);
  // A missing frame header is refused at either depth.
  const noFrame = Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0x00, 0xff, 0xd9]);
  assert.throws(() => probeImage(noFrame, "jpeg", "headers"), /the frame header is missing/);
});

Deno.test("probe: scan data with stuffed bytes, restart markers and junk does not end the walk early", () => {
  // SOI, SOF0 (8x8, one component), then 101 scans whose data holds FF00 and RST markers.
  const sof = [0xff, 0xc0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0];
  const scan = [0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56];
  const build = (scans: number, junk: number[] = []) =>
    new Uint8Array([
      0xff,
      0xd8,
      ...sof,
      ...Array(scans).fill([...scan, ...junk]).flat(),
      0xff,
      0xd9,
    ]);
  assert.deepEqual(probeImage(build(100), "jpeg").width, 8);
  refusedAs(build(101), "jpeg", /more than 100 scans/);
  // Stray bytes after the frame header, which libjpeg skips, do not hide the scans after them.
  refusedAs(build(101, [0x00, 0x01]), "jpeg", /more than 100 scans/);
  // A second frame header is refused: decoders would disagree about the size.
  const twoFrames = new Uint8Array([0xff, 0xd8, ...sof, ...sof, ...scan, 0xff, 0xd9]);
  refusedAs(twoFrames, "jpeg", /a second frame header/);
});

Deno.test("probe: the libjpeg depth skips the scans libjpeg never reads, and counts every other", async () => {
  // libjpeg decodes a sequential frame whose first scan holds every component from that scan,
  // and stops with an error at any further one: those are not worth a walk.
  const baseline = await encodeBitmap(photoLike(96, 64), { type: "jpeg", quality: 80 });
  const trailing = withScans(baseline, 10_000);
  assert.equal(probeImage(trailing, "jpeg", "libjpeg").width, 96);
  refusedAs(trailing, "jpeg", /more than 100 scans/);
  // A progressive frame's scans all count.
  assert.throws(
    () => probeImage(withScans(progressive, 101), "jpeg", "libjpeg"),
    /more than 100 scans/,
  );
  // So do a sequential frame's when its first scan leaves components for later scans, even
  // when a later scan holds them all.
  const frame = [0xff, 0xc0, 0, 17, 8, 0, 8, 0, 8, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0];
  const oneComponent = [0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0x12];
  const allComponents = [0xff, 0xda, 0, 12, 3, 1, 0, 2, 0, 3, 0, 0, 63, 0, 0x12];
  const multiScan = (first: number[]) =>
    new Uint8Array([
      0xff,
      0xd8,
      ...frame,
      ...first,
      ...Array(101).fill(allComponents).flat(),
      0xff,
      0xd9,
    ]);
  assert.throws(() => probeImage(multiScan(oneComponent), "jpeg", "libjpeg"), /more than 100/);
  assert.equal(probeImage(multiScan(allComponents), "jpeg", "libjpeg").width, 8);
});

/** A TIFF with one IFD of LONG tags, in the order given, and no pixel data. */
function tiff(tags: [number, number][]): Uint8Array {
  const out = new Uint8Array(8 + 2 + tags.length * 12 + 4);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, 8, true);
  view.setUint16(8, tags.length, true);
  tags.forEach(([tag, value], i) => {
    view.setUint16(10 + i * 12, tag, true);
    view.setUint16(12 + i * 12, 4, true);
    view.setUint32(14 + i * 12, 1, true);
    view.setUint32(18 + i * 12, value, true);
  });
  return out;
}

Deno.test("probe: a TIFF giving ImageWidth or ImageLength twice is refused", () => {
  assert.deepEqual(probeImage(tiff([[256, 10], [257, 400]]), "tiff").width, 10);
  refusedAs(tiff([[256, 100000], [256, 10], [257, 400]]), "tiff", /the size tag 256 appears twice/);
  refusedAs(tiff([[256, 10], [257, 400], [257, 400]]), "tiff", /the size tag 257 appears twice/);
  // Another tag twice is left to the decoder.
  assert.deepEqual(
    probeImage(tiff([[256, 10], [257, 400], [259, 1], [259, 1]]), "tiff").height,
    400,
  );
});
