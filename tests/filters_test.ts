import assert from "node:assert/strict";
import { BadRequest } from "../lib/errors.ts";
import { filters } from "../filters/mod.ts";
import { resizePlan } from "../filters/resize.ts";
import type { Gravity } from "../filters/gravity.ts";
import { placeWatermark } from "../filters/watermark.ts";
import { BitmapCanvas } from "../lib/pure/backend.ts";
import { resizeBitmap } from "../lib/image/resample.ts";
import {
  busyPatch,
  busyPixels,
  makeBitmap,
  noOverlays,
  pixelAt,
  psnr,
  quadrantAt,
  quadrants,
  type Rgba,
} from "./helpers.ts";

const context = { maxBlurSigma: 50 };

/** Parses `token,arg` and applies it to a fresh canvas of the bitmap. */
function run(name: string, arg: string, canvas: BitmapCanvas) {
  const filter = filters.get(name)!;
  const params = filter.parse(arg, context);
  const input = { width: canvas.width, height: canvas.height };
  const planned = filter.size(input, params);
  filter.apply(canvas, params, input, noOverlays);
  assert.deepEqual({ width: canvas.width, height: canvas.height }, planned);
  return canvas.bitmap;
}

// A 4x3 image where each pixel has its own colour.
const corners = () => makeBitmap(4, 3, (x, y) => [x * 60, y * 100, 7, 255]);

Deno.test("flip h mirrors a known pixel left to right", () => {
  const out = run("f", "h", new BitmapCanvas(corners()));
  assert.deepEqual(pixelAt(out, 3, 0), [0, 0, 7, 255]);
  assert.deepEqual(pixelAt(out, 0, 2), [180, 200, 7, 255]);
});

Deno.test("flip v turns the image upside down", () => {
  const out = run("f", "v", new BitmapCanvas(corners()));
  assert.deepEqual(pixelAt(out, 0, 2), [0, 0, 7, 255]);
  assert.deepEqual(pixelAt(out, 3, 0), [180, 200, 7, 255]);
});

Deno.test("rotate 90 is counter-clockwise: the top-left corner goes to the bottom-left", () => {
  const out = run("r", "90", new BitmapCanvas(corners()));
  assert.deepEqual([out.width, out.height], [3, 4]);
  assert.deepEqual(pixelAt(out, 0, 3), [0, 0, 7, 255]);
  assert.deepEqual(pixelAt(out, 0, 0), [180, 0, 7, 255]);
});

Deno.test("rotate 180 and 270 put the top-left corner where expected", () => {
  const half = run("r", "180", new BitmapCanvas(corners()));
  assert.deepEqual(pixelAt(half, 3, 2), [0, 0, 7, 255]);
  const three = run("r", "270", new BitmapCanvas(corners()));
  assert.deepEqual([three.width, three.height], [3, 4]);
  assert.deepEqual(pixelAt(three, 2, 0), [0, 0, 7, 255]);
});

Deno.test("grayscale makes R = G = B with Rec.601 luma and keeps alpha", () => {
  const source = makeBitmap(2, 1, (x) => (x === 0 ? [255, 0, 0, 255] : [10, 200, 40, 90]));
  const out = run("gs", "", new BitmapCanvas(source));
  assert.deepEqual(pixelAt(out, 0, 0), [76, 76, 76, 255]);
  assert.deepEqual(pixelAt(out, 1, 0), [125, 125, 125, 90]);
});

Deno.test("crop keeps the right pixels and clips to the image", () => {
  const out = run("c", "1x1-2x5", new BitmapCanvas(corners()));
  assert.deepEqual([out.width, out.height], [2, 2]);
  assert.deepEqual(pixelAt(out, 0, 0), [60, 100, 7, 255]);
  assert.deepEqual(pixelAt(out, 1, 1), [120, 200, 7, 255]);
});

Deno.test("crop entirely outside the image is a 400", () => {
  assert.throws(
    () => run("c", "10x0-5x5", new BitmapCanvas(corners())),
    (e) => e instanceof BadRequest && /outside the 4x3 image/.test(e.message),
  );
});

Deno.test("resize keeps a flat colour flat and a flat alpha intact", () => {
  const flat: Rgba = [200, 100, 50, 128];
  const out = run("s", "37x23", new BitmapCanvas(makeBitmap(300, 200, () => flat)));
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) assert.deepEqual(pixelAt(out, x, y), flat);
  }
});

Deno.test("resizePlan() computes the four modes", () => {
  const input = { width: 400, height: 200 };
  assert.deepEqual(resizePlan(input, { width: 100, height: 0, mode: "exact" }).scaled, {
    width: 100,
    height: 50,
  });
  assert.deepEqual(resizePlan(input, { width: 0, height: 50, mode: "fill" }).scaled, {
    width: 100,
    height: 50,
  });
  assert.deepEqual(resizePlan(input, { width: 100, height: 100, mode: "exact" }).scaled, {
    width: 100,
    height: 100,
  });
  assert.deepEqual(resizePlan(input, { width: 100, height: 100, mode: "fit" }).scaled, {
    width: 100,
    height: 50,
  });
  const fill = resizePlan(input, { width: 100, height: 100, mode: "fill" });
  assert.deepEqual(fill.scaled, { width: 200, height: 100 });
  assert.deepEqual(fill.crop, { x: 50, y: 0, width: 100, height: 100 });
});

Deno.test("resize fill crops the centre of the covering size", () => {
  // Left half red, right half blue: a square fill keeps the middle, both colours.
  const source = makeBitmap(400, 200, (x) => (x < 200 ? [255, 0, 0, 255] : [0, 0, 255, 255]));
  const out = run("s", "100x100-", new BitmapCanvas(source));
  assert.deepEqual([out.width, out.height], [100, 100]);
  assert.deepEqual(pixelAt(out, 5, 50), [255, 0, 0, 255]);
  assert.deepEqual(pixelAt(out, 95, 50), [0, 0, 255, 255]);
});

Deno.test("blur 0 changes nothing and blur spreads a bright pixel", () => {
  const dot = () =>
    makeBitmap(21, 21, (x, y) => (x === 10 && y === 10 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
  assert.deepEqual(run("b", "0", new BitmapCanvas(dot())).data, dot().data);
  const out = run("b", "2", new BitmapCanvas(dot()));
  assert.ok(pixelAt(out, 10, 10)[0] < 255);
  assert.ok(pixelAt(out, 12, 10)[0] > 0);
  assert.equal(pixelAt(out, 12, 10)[0], pixelAt(out, 8, 10)[0]);
});

Deno.test("resize fill keeps the edge or corner its gravity names", () => {
  // The covering size is 200x200. A tall 100x200 box keeps a column (x = 0, 50 or 100): its
  // top-left and top-right colours. A wide 200x100 box keeps a row: its left top and bottom.
  const expected: Record<string, [tall: string, wide: string]> = {
    n: ["rg", "rr"],
    s: ["rg", "bb"],
    e: ["gg", "rb"],
    w: ["rr", "rb"],
    ne: ["gg", "rr"],
    nw: ["rr", "rr"],
    se: ["gg", "bb"],
    sw: ["rr", "bb"],
  };
  for (const [gravity, [tall, wide]] of Object.entries(expected)) {
    const column = run("s", `100x200-${gravity}`, new BitmapCanvas(quadrants(400)));
    assert.equal(quadrantAt(column, 10, 10) + quadrantAt(column, 90, 10), tall, gravity);
    const row = run("s", `200x100-${gravity}`, new BitmapCanvas(quadrants(400)));
    assert.equal(quadrantAt(row, 10, 10) + quadrantAt(row, 10, 90), wide, gravity);
  }
});

Deno.test("resize fill with a focus point centres it as far as the image allows", () => {
  const plan = (focus: string) => {
    const params = filters.get("s")!.parse(`100x200-${focus}`, context);
    return resizePlan({ width: 400, height: 400 }, params as never).crop!;
  };
  // Covering size 200x200, window 100 wide: x = clamp(round(X·200 − 50), 0, 100).
  assert.equal(plan("f0:0").x, 0);
  assert.equal(plan("f1:1").x, 100);
  assert.equal(plan("f0.5:0.5").x, 50);
  assert.equal(plan("f0.6:0").x, 70);
  assert.equal(plan("f0.2:0.9").x, 0);
  assert.equal(plan("f0.6:0").y, 0);
  const out = run("s", "100x200-f0.6:0.5", new BitmapCanvas(quadrants(400)));
  // The red/green border sits at x = 100 − 70 = 30 in the output.
  assert.equal(quadrantAt(out, 24, 10), "r");
  assert.equal(quadrantAt(out, 36, 10), "g");
});

Deno.test("resize refuses bad gravities and focus points with the expected form", () => {
  const resize = filters.get("s")!;
  for (
    const bad of [
      "100x100-x",
      "100x100-nn",
      "100x100-f",
      "100x100-f0.5",
      "100x100-f2:0",
      "100x100-f0.5:-1",
      "100x100-f.5:.5",
      "100x100-f0.5:0.5:1",
      "100x100+n",
      "100x100-constructor",
    ]
  ) {
    assert.throws(
      () => resize.parse(bad, context),
      (e) => e instanceof BadRequest && e.message.includes(`"${bad}"`) && /-fX:Y/.test(e.message),
      bad,
    );
  }
});

Deno.test("br, ct and sat follow their documented formulas exactly on 8-bit pixels", () => {
  const pixel = () => makeBitmap(1, 1, () => [100, 150, 200, 77]);
  // C' = C + 2.55·N
  assert.deepEqual(pixelAt(run("br", "50", new BitmapCanvas(pixel())), 0, 0), [228, 255, 255, 77]);
  assert.deepEqual(pixelAt(run("br", "-40", new BitmapCanvas(pixel())), 0, 0), [0, 48, 98, 77]);
  // C' = 127.5 + k·(C − 127.5), k = 1 + N/100
  assert.deepEqual(pixelAt(run("ct", "50", new BitmapCanvas(pixel())), 0, 0), [86, 161, 236, 77]);
  assert.deepEqual(
    pixelAt(run("ct", "-100", new BitmapCanvas(pixel())), 0, 0),
    [128, 128, 128, 77],
  );
  // C' = Y + s·(C − Y), Y = 0.299R + 0.587G + 0.114B = 140.75
  assert.deepEqual(pixelAt(run("sat", "100", new BitmapCanvas(pixel())), 0, 0), [59, 159, 255, 77]);
  assert.deepEqual(
    pixelAt(run("sat", "-100", new BitmapCanvas(pixel())), 0, 0),
    pixelAt(run("gs", "", new BitmapCanvas(pixel())), 0, 0),
  );
  for (const name of ["br", "ct", "sat"]) {
    assert.deepEqual(run(name, "0", new BitmapCanvas(pixel())).data, pixel().data);
  }
});

Deno.test("br, ct and sat refuse levels outside -100..100 and non-integers", () => {
  for (const name of ["br", "ct", "sat"]) {
    for (const bad of ["101", "-101", "1.5", "+5", "", "x", "007", "1e2", "2147483648", "-"]) {
      assert.throws(
        () => filters.get(name)!.parse(bad, context),
        (e) =>
          e instanceof BadRequest && e.message.includes(`"${bad}"`) &&
          /-100 to 100/.test(e.message),
        `${name},${bad}`,
      );
    }
    assert.equal(filters.get(name)!.parse("-100", context), -100);
    assert.equal(filters.get(name)!.parse("-0", context), 0);
  }
});

Deno.test("sharpen steepens an edge, leaves flat areas and alpha alone", () => {
  // Dark left half (50), bright right half (200), half transparent.
  const step = () => makeBitmap(40, 10, (x) => (x < 20 ? [50, 50, 50, 128] : [200, 200, 200, 128]));
  const out = run("sh", "1.5", new BitmapCanvas(step()));
  assert.ok(pixelAt(out, 18, 5)[0] < 50, "the dark side of the edge gets darker");
  assert.ok(pixelAt(out, 21, 5)[0] > 200, "the bright side gets brighter");
  assert.deepEqual(pixelAt(out, 2, 5), [50, 50, 50, 128]);
  assert.deepEqual(pixelAt(out, 37, 5), [200, 200, 200, 128]);
});

Deno.test("sharpen refuses sigmas outside 0.3..10", () => {
  for (const bad of ["0", "0.29", "10.01", "11", "-1", "x", "", "1e1", "100"]) {
    assert.throws(
      () => filters.get("sh")!.parse(bad, context),
      (e) =>
        e instanceof BadRequest && e.message.includes(`"${bad}"`) && /0.3 to 10/.test(e.message),
      bad,
    );
  }
  assert.equal(filters.get("sh")!.parse("0.3", context), 0.3);
  assert.equal(filters.get("sh")!.parse("10", context), 10);
});

Deno.test("pad centres the image in the box and paints only the border", () => {
  const source = () => makeBitmap(3, 2, (x, y) => [x * 80, y * 90, 30, 100 + x]);
  const out = run("pad", "6x5:ff000080", new BitmapCanvas(source()));
  assert.deepEqual([out.width, out.height], [6, 5]);
  // Margins floor((6 - 3) / 2) = 1 left, 2 right; floor((5 - 2) / 2) = 1 top, 2 bottom.
  assert.deepEqual(pixelAt(out, 0, 0), [255, 0, 0, 128]);
  assert.deepEqual(pixelAt(out, 1, 1), [0, 0, 30, 100]);
  assert.deepEqual(pixelAt(out, 3, 2), [160, 90, 30, 102]);
  assert.deepEqual(pixelAt(out, 4, 2), [255, 0, 0, 128]);
  assert.deepEqual(pixelAt(out, 3, 3), [255, 0, 0, 128]);
  const clear = run("pad", "4x2", new BitmapCanvas(source()));
  assert.deepEqual(pixelAt(clear, 3, 0), [0, 0, 0, 0]);
  assert.deepEqual(pixelAt(run("pad", "3x3:00FF00", new BitmapCanvas(source())), 0, 2), [
    0,
    255,
    0,
    255,
  ]);
});

Deno.test("pad refuses bad boxes and colours, and an image larger than the box", () => {
  for (
    const bad of [
      "0x10",
      "10x0",
      "10",
      "10x10:",
      "10x10:fff",
      "10x10:ff00ff0",
      "10x10:gg0000",
      "10x10:#ff0000",
      "100001x10",
      "10x10:ff0000ff00",
    ]
  ) {
    assert.throws(
      () => filters.get("pad")!.parse(bad, context),
      (e) =>
        e instanceof BadRequest && e.message.includes(`"${bad}"`) && /WxH:RRGGBBAA/.test(e.message),
      bad,
    );
  }
  assert.throws(
    () => run("pad", "3x1", new BitmapCanvas(corners())),
    (e) => e instanceof BadRequest && /4x3 image to 3x1/.test(e.message),
  );
});

Deno.test("smart fill keeps a busy patch that a centred fill cuts away", async () => {
  const filter = filters.get("s")!;
  const apply = async (arg: string) => {
    const canvas = new BitmapCanvas(busyPatch());
    const input = { width: 600, height: 300 };
    await filter.apply(canvas, filter.parse(arg, context), input, noOverlays);
    return canvas.bitmap;
  };
  // Covering size 400x200; the patch is at x 300..366 there, so the window must start 167..200.
  const smart = await apply("200x200-smart");
  const centre = await apply("200x200-");
  assert.deepEqual([smart.width, smart.height], [200, 200]);
  const patch = 67 * 67;
  assert.ok(busyPixels(smart) > 0.9 * patch, `smart kept ${busyPixels(smart)} of ${patch}`);
  assert.ok(busyPixels(centre) < 0.1 * patch, `centre kept ${busyPixels(centre)}`);
});

Deno.test("placeWatermark sizes by the output width and keeps the margin from its edges", () => {
  const mark = { width: 40, height: 20 };
  const base = { name: "m", storage: "s", path: "p", opacity: 1, scale: 0.25, margin: 10 };
  const place = (gravity: Gravity) =>
    placeWatermark({ width: 200, height: 100 }, mark, { ...base, gravity });
  assert.deepEqual(place("se"), { size: { width: 50, height: 25 }, at: { x: 140, y: 65 } });
  assert.deepEqual(place("nw").at, { x: 10, y: 10 });
  assert.deepEqual(place("n").at, { x: 75, y: 10 });
  assert.deepEqual(place("w").at, { x: 10, y: 37 });
  // A mark larger than the image starts at its top-left corner and is clipped.
  const huge = placeWatermark({ width: 10, height: 4 }, mark, { ...base, scale: 1, gravity: "se" });
  assert.deepEqual(huge, { size: { width: 10, height: 5 }, at: { x: 0, y: 0 } });
});

Deno.test("wm composites the mark at its place, scale and opacity", async () => {
  const grey = makeBitmap(200, 100, () => [128, 128, 128, 255]);
  const canvas = new BitmapCanvas(grey);
  // Left half opaque red, right half transparent.
  const logo = makeBitmap(40, 20, (x) => x < 20 ? [255, 0, 0, 255] : [0, 0, 0, 0]);
  const overlays = {
    overlaySize: () => logo,
    overlay: () => Promise.resolve(new BitmapCanvas(logo)),
  };
  const watermarks = new Map([["logo", {
    name: "logo",
    storage: "files",
    path: "logo.png",
    gravity: "se" as const,
    opacity: 0.5,
    scale: 0.25,
    margin: 10,
  }]]);
  const filter = filters.get("wm")!;
  await filter.apply(canvas, filter.parse("logo", { ...context, watermarks }), grey, overlays);
  const out = canvas.bitmap;
  // The 50x25 mark at (140, 65): its red half over x 140..164, half opaque.
  assert.deepEqual(pixelAt(out, 150, 75), [192, 64, 64, 255]);
  for (const [x, y] of [[138, 75], [180, 75], [150, 63], [150, 91], [5, 5]]) {
    assert.deepEqual(pixelAt(out, x, y), [128, 128, 128, 255], `${x},${y}`);
  }
  assert.throws(
    () => filter.parse("nope", { ...context, watermarks }),
    (e) =>
      e instanceof BadRequest && /Unknown watermark "nope": expected one of "logo"/.test(e.message),
  );
});

Deno.test("wm scales only the part of a mark that is drawn, with the pixels of the whole", async () => {
  // A mark 40x20 scaled to the full width of a 300x10 image: 300x150, of which 10 rows show.
  const logo = makeBitmap(40, 20, (x, y) => [x * 6, y * 12, 200, 255 - x * 3]);
  const grey = makeBitmap(300, 10, () => [128, 128, 128, 255]);
  const mark = {
    name: "big",
    storage: "files",
    path: "big.png",
    gravity: "nw" as const,
    opacity: 1,
    scale: 1,
    margin: 0,
  };
  const sizes: string[] = [];
  const overlays = {
    overlaySize: () => logo,
    overlay: () => {
      const canvas = new BitmapCanvas(logo);
      const resize = canvas.resize.bind(canvas);
      canvas.resize = (size) => {
        sizes.push(`${size.width}x${size.height}`);
        resize(size);
      };
      return Promise.resolve(canvas);
    },
  };
  const filter = filters.get("wm")!;
  const params = filter.parse("big", { ...context, watermarks: new Map([["big", mark]]) });
  const canvas = new BitmapCanvas(grey);
  await filter.apply(canvas, params, grey, overlays);
  // Rows 0..9 of 150 need 2 source rows and the filter's reach: 6 rows, scaled by 7.5.
  assert.deepEqual(sizes, ["300x45"]);
  assert.deepEqual(
    filter.intermediates!(grey, params, overlays).map((s) => `${s.width}x${s.height}`),
    ["40x20", "300x45", "300x10"],
  );
  const whole = resizeBitmap(logo, 300, 150);
  const expected = new BitmapCanvas(grey);
  expected.composite({ ...whole, height: 10, data: whole.data.subarray(0, 300 * 10 * 4) }, {
    x: 0,
    y: 0,
  }, 1);
  assert.ok(psnr(canvas.bitmap, expected.bitmap) > 45, `${psnr(canvas.bitmap, expected.bitmap)}`);
  // A mark placed wholly outside the image (its margin past the edge) is not even decoded.
  const far = filter.parse("big", {
    ...context,
    watermarks: new Map([["big", { ...mark, scale: 0.1, margin: 20 }]]),
  });
  sizes.length = 0;
  await filter.apply(new BitmapCanvas(grey), far, grey, {
    overlaySize: () => logo,
    overlay: () => Promise.reject(new Error("decoded a mark that does not show")),
  });
  assert.deepEqual(filter.intermediates!(grey, far, overlays), []);
});
