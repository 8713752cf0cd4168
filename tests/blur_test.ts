import assert from "node:assert/strict";
import { gaussianBlur } from "../lib/image/blur.ts";
import { makeBitmap, pixelAt } from "./helpers.ts";

/** Where `values` first reaches `level`, interpolated between samples. */
function crossing(values: number[], level: number): number {
  const i = values.findIndex((v) => v >= level);
  return i - 1 + (level - values[i - 1]) / (values[i] - values[i - 1]);
}

Deno.test("gaussianBlur() returns a copy for a sigma of zero or less", () => {
  const src = makeBitmap(6, 5, (x, y) => [x * 40, y * 50, 7, 255]);
  for (const sigma of [0, -2, NaN]) {
    const out = gaussianBlur(src, sigma);
    assert.deepEqual(out, src);
    assert.notEqual(out.data, src.data);
  }
});

Deno.test("gaussianBlur() keeps a flat colour flat", () => {
  for (const colour of [[200, 100, 50, 255], [200, 100, 50, 128], [13, 240, 99, 1]]) {
    for (const [w, h] of [[40, 30], [1, 1], [3, 2]]) {
      for (const sigma of [0.5, 3, 50]) {
        const out = gaussianBlur(makeBitmap(w, h, () => colour), sigma);
        assert.deepEqual(
          out.data,
          makeBitmap(w, h, () => colour).data,
          `${w}x${h}, sigma ${sigma}`,
        );
      }
    }
  }
});

Deno.test("gaussianBlur() spreads a step edge by sigma along both axes", () => {
  // From sigma 4 up, reading the crossings between samples is accurate to well under 1%.
  for (const sigma of [4, 9.5, 20]) {
    const size = Math.ceil(12 * sigma) + 10;
    const edge = size / 2;
    const white = [255, 255, 255, 255];
    const black = [0, 0, 0, 255];
    const across = gaussianBlur(makeBitmap(size, 3, (x) => x < edge ? black : white), sigma);
    const down = gaussianBlur(makeBitmap(3, size, (_, y) => y < edge ? black : white), sigma);
    const profiles = [
      Array.from({ length: size }, (_, i) => pixelAt(across, i, 1)[0]),
      Array.from({ length: size }, (_, i) => pixelAt(down, 1, i)[0]),
    ];
    for (const profile of profiles) {
      // A Gaussian's step response crosses 15.87% and 84.13% one sigma either side.
      const width = crossing(profile, 255 * 0.8413) - crossing(profile, 255 * 0.1587);
      const variance = (width / 2) ** 2;
      assert.ok(
        Math.abs(variance / sigma ** 2 - 1) < 0.03,
        `sigma ${sigma}: variance ${variance.toFixed(3)}`,
      );
    }
  }
});

Deno.test("gaussianBlur() turns a white pixel into a sampled Gaussian", () => {
  // Below a sigma of about 0.7 the recursion stopped being a low-pass filter.
  for (const sigma of [0.3, 0.5, 0.7, 0.99, 1.5, 3]) {
    const size = 41;
    const c = 20;
    const out = gaussianBlur(
      makeBitmap(size, size, (x, y) => x === c && y === c ? [255, 255, 255, 255] : [0, 0, 0, 255]),
      sigma,
    );
    const g = (x: number, y: number) => Math.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * sigma ** 2));
    let total = 0;
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) total += g(x, y);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const expected = 255 * g(x, y) / total;
        const actual = pixelAt(out, x, y)[0];
        assert.ok(
          Math.abs(actual - expected) <= 1,
          `sigma ${sigma} at ${x},${y}: ${actual} vs ${expected.toFixed(2)}`,
        );
      }
    }
  }
});

Deno.test("gaussianBlur() keeps alpha and does not bleed the colour of transparent pixels", () => {
  // A flat alpha with varying colour keeps its alpha exactly.
  const src = makeBitmap(30, 20, (x, y) => [x * 8, y * 12, (x * y) % 256, 77]);
  const out = gaussianBlur(src, 2);
  for (let p = 3; p < out.data.length; p += 4) assert.equal(out.data[p], 77);

  // Left half transparent red, right half opaque blue: premultiplied, the red weighs nothing.
  const half = gaussianBlur(
    makeBitmap(40, 8, (x) => x < 20 ? [255, 0, 0, 0] : [0, 0, 255, 255]),
    3,
  );
  let partial = 0;
  for (let x = 0; x < 40; x++) {
    const [r, g, b, a] = pixelAt(half, x, 4);
    if (a === 0) continue;
    assert.deepEqual([r, g], [0, 0], `at ${x}`);
    // Faint pixels carry their colour with a little less precision.
    assert.ok(b >= 254, `blue ${b} at ${x}`);
    if (a < 255) partial++;
  }
  assert.ok(partial > 5, "the edge should be soft");
});

Deno.test("gaussianBlur() keeps the mean alpha of fine transparent stripes at a small sigma", () => {
  // Stripes 5 px wide, opaque and clear: a blur moves alpha about but keeps its mean, 127.5.
  // The recursion at sigma 0.5 made it 78, its stripes up to 219 levels off.
  const stripes = makeBitmap(
    40,
    30,
    (x, y) => (x + y) % 10 < 5 ? [250, 20, 20, 255] : [0, 0, 0, 0],
  );
  for (const sigma of [0.3, 0.5, 0.6, 0.8]) {
    const out = gaussianBlur(stripes, sigma);
    let sum = 0;
    for (let p = 3; p < out.data.length; p += 4) sum += out.data[p];
    const mean = sum / (40 * 30);
    assert.ok(Math.abs(mean - 127.5) < 1, `sigma ${sigma}: mean alpha ${mean.toFixed(1)}`);
  }
});

Deno.test("gaussianBlur() takes about as long for a large sigma as for a small one", () => {
  // Timings are only printed: they depend on the machine.
  const src = makeBitmap(1500, 1000, (x, y) => [x % 256, y % 256, (x ^ y) % 256, 255]);
  gaussianBlur(src, 1);
  for (const sigma of [2, 20, 200]) {
    const start = performance.now();
    gaussianBlur(src, sigma);
    console.log(`1500x1000, sigma ${sigma}: ${(performance.now() - start).toFixed(0)} ms`);
  }
});
