import assert from "node:assert/strict";
import { join } from "node:path";
import { Image } from "imagescript";
import type { Canvas } from "../lib/image/backend.ts";
import { Unprocessable } from "../lib/errors.ts";
import type { SourceFormat } from "../lib/image/formats.ts";
import { createMagickBackend } from "../lib/magick/backend.ts";
import { graphicsmagick, imagemagick6 } from "../lib/magick/dialects.ts";
import { openMagick } from "../lib/magick/library.ts";

/** Decode options for a still, first-frame decode without a size hint. */
const still = { allFrames: false };

const limits = { maxSourcePixels: 50_000_000, maxOutputPixels: 50_000_000 };

/** Runs `open`; when it throws, prints why and skips, unless CI=true, where it fails. */
function required<T>(what: string, open: () => T): T | undefined {
  try {
    return open();
  } catch (error) {
    if (Deno.env.get("CI") === "true") throw error;
    console.log(`skipped ${what}: ${(error as Error).message}`);
    return undefined;
  }
}

// The fixtures are made by ImageMagick's command line, independent of the code under test.
const hasConvert = required("the magick tests", () => {
  new Deno.Command("convert", { args: ["-version"], stdout: "null" }).outputSync();
  return true;
});

async function convert(...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("convert", { args, stdout: "null" })
    .output();
  if (!success) throw new Error(`convert ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

/** Source images with known pixels, written by ImageMagick's command line into `dir`. */
async function makeFixtures(dir: string): Promise<Record<string, Uint8Array>> {
  const path = (name: string) => join(dir, name);
  // 4x3, each pixel its own colour: (60x, 100y, 7).
  const corners = ["P3 4 3 255"];
  for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) corners.push(`${x * 60} ${y * 100} 7`);
  await Deno.writeTextFile(path("corners.ppm"), `${corners.join("\n")}\n`);
  await convert(path("corners.ppm"), path("corners.png"));
  await convert("-size", "40x30", "xc:rgba(200,100,50,0.5)", path("alpha.png"));
  await convert("-size", "64x48", "gradient:red-blue", "-quality", "95", path("photo.jpg"));
  await convert(path("photo.jpg"), "-colorspace", "CMYK", path("cmyk.jpg"));
  await convert("-size", "8x8", "xc:red", "xc:blue", path("frames.gif"));
  await convert("-size", "20x10", "xc:black", "xc:white", "+append", path("step.png"));
  await convert("-size", "20x10", "xc:rgba(255,0,0,0)", "xc:blue", "+append", path("edge.png"));
  await convert("-size", "8x8", "xc:red", "-set", "Author", "Jane Roe", path("authored.png"));
  // A photo-like 4000x3000: a smooth fractal, upscaled, is quick to make and realistic to
  // decode.
  await convert("-size", "1000x750", "plasma:fractal", "-resize", "4000x3000!", path("big.jpg"));
  const files: Record<string, Uint8Array> = {};
  for await (const entry of Deno.readDir(dir)) {
    files[entry.name] = await Deno.readFile(path(entry.name));
  }
  return files;
}

/** Decodes an encoded output with ImageScript, independent of the library under test. */
async function inspect(bytes: Uint8Array) {
  const image = await Image.decode(bytes);
  return {
    width: image.width,
    height: image.height,
    at(x: number, y: number): number[] {
      const i = (y * image.width + x) * 4;
      return [...image.bitmap.subarray(i, i + 4)];
    },
  };
}

function assertNear(actual: number[], expected: number[], tolerance: number, what: string) {
  const off = actual.some((value, i) => Math.abs(value - expected[i]) > tolerance);
  assert.ok(!off, `${what}: got ${actual}, expected ${expected} ±${tolerance}`);
}

/** The JPEG's components as [id, sampling byte] pairs, read from its SOF0/SOF2 marker. */
function jpegComponents(bytes: Uint8Array): number[][] {
  for (let i = 2; i < bytes.length;) {
    const marker = bytes[i + 1];
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker === 0xc0 || marker === 0xc2) {
      const count = bytes[i + 9];
      return Array.from(
        { length: count },
        (_, c) => [bytes[i + 10 + c * 3], bytes[i + 11 + c * 3]],
      );
    }
    i += 2 + length;
  }
  throw new Error("no SOF marker");
}

for (const library of ["imagemagick", "graphicsmagick"] as const) {
  const backend = required(library, () => createMagickBackend(library, limits));
  Deno.test({
    name: `magick backend (${library}) decodes, filters and encodes like the Canvas contract`,
    ignore: !backend || !hasConvert,
    async fn(t) {
      const magick = backend!;
      const dir = await Deno.makeTempDir({ prefix: "impressionist-magick-" });
      try {
        const files = await makeFixtures(dir);
        /** Decodes a fixture, runs `change`, encodes, and decodes the result to inspect. */
        const run = async (
          name: string,
          change: (canvas: Canvas) => void = () => {},
          type: "png" | "jpeg" = "png",
        ) => {
          const format = name.split(".")[1].replace("jpg", "jpeg") as SourceFormat;
          const canvas = await magick.decode(files[name], format, still);
          try {
            change(canvas);
            const bytes = await magick.encode(canvas, { type, quality: 90 });
            const image = await inspect(bytes);
            // The getters read the wand: they must agree with what was encoded.
            assert.deepEqual([canvas.width, canvas.height], [image.width, image.height]);
            return { bytes, image };
          } finally {
            canvas.dispose();
          }
        };

        await t.step("decodes a PNG pixel for pixel", async () => {
          const { image } = await run("corners.png");
          assert.deepEqual([image.width, image.height], [4, 3]);
          assert.deepEqual(image.at(3, 2), [180, 200, 7, 255]);
          assert.deepEqual(image.at(1, 0), [60, 0, 7, 255]);
        });

        await t.step("decodes a JPEG, a CMYK JPEG as RGB, and the first GIF frame", async () => {
          const photo = await run("photo.jpg");
          assert.deepEqual([photo.image.width, photo.image.height], [64, 48]);
          assertNear(photo.image.at(32, 0), [254, 0, 1, 255], 6, "top of red-blue gradient");
          const cmyk = await run("cmyk.jpg");
          assertNear(cmyk.image.at(32, 47), photo.image.at(32, 47), 8, "CMYK converted");
          const gif = await run("frames.gif");
          assert.deepEqual(gif.image.at(4, 4), [255, 0, 0, 255]);
        });

        await t.step("crop keeps the right pixels", async () => {
          const { image } = await run(
            "corners.png",
            (c) => c.crop({ x: 1, y: 1, width: 2, height: 2 }),
          );
          assert.deepEqual([image.width, image.height], [2, 2]);
          assert.deepEqual(image.at(0, 0), [60, 100, 7, 255]);
          assert.deepEqual(image.at(1, 1), [120, 200, 7, 255]);
          // A second crop counts from the first crop's corner, not the original's.
          const twice = await run("corners.png", (c) => {
            c.crop({ x: 1, y: 1, width: 3, height: 2 });
            c.crop({ x: 1, y: 0, width: 1, height: 1 });
          });
          assert.deepEqual(twice.image.at(0, 0), [120, 100, 7, 255]);
        });

        await t.step("flip h mirrors left/right, flip v turns upside down", async () => {
          const h = await run("corners.png", (c) => c.flip("h"));
          assert.deepEqual(h.image.at(3, 0), [0, 0, 7, 255]);
          assert.deepEqual(h.image.at(0, 2), [180, 200, 7, 255]);
          const v = await run("corners.png", (c) => c.flip("v"));
          assert.deepEqual(v.image.at(0, 2), [0, 0, 7, 255]);
          assert.deepEqual(v.image.at(3, 0), [180, 200, 7, 255]);
        });

        await t.step("rotate turns counter-clockwise", async () => {
          const r90 = await run("corners.png", (c) => c.rotate(90));
          assert.deepEqual([r90.image.width, r90.image.height], [3, 4]);
          assert.deepEqual(r90.image.at(0, 3), [0, 0, 7, 255], "top-left to bottom-left");
          assert.deepEqual(r90.image.at(0, 0), [180, 0, 7, 255], "top-right to top-left");
          const r180 = await run("corners.png", (c) => c.rotate(180));
          assert.deepEqual(r180.image.at(3, 2), [0, 0, 7, 255]);
          const r270 = await run("corners.png", (c) => c.rotate(270));
          assert.deepEqual([r270.image.width, r270.image.height], [3, 4]);
          assert.deepEqual(r270.image.at(2, 0), [0, 0, 7, 255], "top-left to top-right");
        });

        await t.step("grayscale writes the luma into R, G and B and keeps alpha", async () => {
          const { image } = await run("corners.png", (c) => c.grayscale());
          // 0.299 * 180 + 0.587 * 200 + 0.114 * 7 = 172.02
          assertNear(image.at(3, 2), [172, 172, 172, 255], 1, "luma");
          const alpha = await run("alpha.png", (c) => c.grayscale());
          // 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 124.2
          assertNear(alpha.image.at(5, 5), [124, 124, 124, 128], 1, "luma with alpha");
        });

        await t.step("grayscale output stays a three-channel colour JPEG", async () => {
          const { bytes } = await run("photo.jpg", (c) => c.grayscale(), "jpeg");
          assert.equal(jpegComponents(bytes).length, 3);
        });

        await t.step(
          "resize makes exactly the size and keeps a flat colour and alpha",
          async () => {
            const { image } = await run("alpha.png", (c) => c.resize({ width: 13, height: 7 }));
            assert.deepEqual([image.width, image.height], [13, 7]);
            for (const [x, y] of [[0, 0], [6, 3], [12, 6]]) {
              assertNear(image.at(x, y), [200, 100, 50, 128], 1, `pixel ${x},${y}`);
            }
          },
        );

        await t.step("blur sigma is a Gaussian's standard deviation in pixels", async () => {
          const { image } = await run("step.png", (c) => c.blur(2));
          assert.deepEqual([image.width, image.height], [40, 10]);
          // A blurred step follows the normal CDF: pixel centre x sits at x - 19.5 from the edge.
          for (const [x, expected] of [[19, 102], [20, 153], [22, 228], [25, 254]]) {
            assertNear(image.at(x, 5).slice(0, 1), [expected], 4, `pixel ${x}`);
          }
        });

        await t.step("blur does not bleed a transparent neighbour's colour", async () => {
          const { image } = await run("edge.png", (c) => c.blur(2));
          for (let x = 0; x < 40; x++) {
            const [red, , , alpha] = image.at(x, 5);
            if (alpha >= 8) assert.ok(red <= 8, `pixel ${x}: red ${red} at alpha ${alpha}`);
          }
        });

        await t.step("JPEG output: alpha on white, 4:4:4 at quality 90", async () => {
          // As on every backend (formats_test.ts checks 4:2:0 below 90).
          const { bytes, image } = await run("alpha.png", () => {}, "jpeg");
          assertNear(image.at(20, 15), [228, 178, 153, 255], 3, "flattened onto white");
          assert.deepEqual(jpegComponents(bytes).map(([, sampling]) => sampling), [
            0x11,
            0x11,
            0x11,
          ]);
        });

        await t.step("PNG output carries no metadata from the source", async () => {
          const { bytes } = await run("authored.png");
          const text = new TextDecoder("latin1").decode(bytes);
          assert.ok(!/Jane Roe|date:|tEXt|zTXt|iTXt/.test(text), "text chunk in the output");
        });

        await t.step("a JPEG hint decodes at a reduced size, never below the hint", async () => {
          const hint = { minSize: { width: 400, height: 300 } };
          const canvas = await magick.decode(files["big.jpg"], "jpeg", { hint, allFrames: false });
          try {
            assert.ok(
              canvas.width >= 400 && canvas.height >= 300,
              `${canvas.width}x${canvas.height}`,
            );
            assert.ok(canvas.width <= 2000, `not reduced: ${canvas.width}x${canvas.height}`);
            assert.equal(canvas.width * 3, canvas.height * 4);
          } finally {
            canvas.dispose();
          }
        });

        await t.step("a hint near the stored size never makes the decoder scale up", async () => {
          const canvas = await magick.decode(files["photo.jpg"], "jpeg", {
            hint: { minSize: { width: 40, height: 30 } },
            allFrames: false,
          });
          assert.deepEqual([canvas.width, canvas.height], [64, 48]);
          canvas.dispose();
        });

        await t.step("bad input is Unprocessable with the library's reason", async () => {
          const big = files["big.jpg"];
          const svg = `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"></svg>`;
          const text = (content: string) => new TextEncoder().encode(content);
          const cases: [string, Uint8Array, SourceFormat][] = [
            ["truncated JPEG", big.subarray(0, big.length >> 1), "jpeg"],
            ["random bytes", crypto.getRandomValues(new Uint8Array(4096)), "jpeg"],
            ["random bytes", crypto.getRandomValues(new Uint8Array(4096)), "png"],
            // Each would decode if the library sniffed the content instead of obeying.
            ["SVG labelled PNG", text(svg), "png"],
            ["PNM labelled GIF", text("P3 1 1 255\n255 0 0\n"), "gif"],
            ["PNG labelled JPEG", files["alpha.png"], "jpeg"],
          ];
          for (const [what, bytes, format] of cases) {
            await assert.rejects(() => magick.decode(bytes, format, still), (error: Error) => {
              assert.ok(error instanceof Unprocessable, `${what}: ${error}`);
              assert.equal(error.status, 422);
              assert.match(error.message, /cannot decode the [a-z]+ source: \S/);
              return true;
            });
          }
        });

        await t.step("the library itself refuses images over the pixel limit", async () => {
          // Resource limits are process-wide: the small ones last until the next backend.
          const small = createMagickBackend(library, { maxSourcePixels: 1000 });
          try {
            for (const [name, format] of [["photo.jpg", "jpeg"], ["alpha.png", "png"]] as const) {
              await assert.rejects(() => small.decode(files[name], format, still), Unprocessable);
            }
          } finally {
            createMagickBackend(library, limits);
          }
        });

        await t.step("timing: 4000x3000 JPEG to 400x300 JPEG q80 with the hint", async () => {
          const times: number[] = [];
          for (let i = 0; i < 5; i++) {
            const start = performance.now();
            const canvas = await magick.decode(files["big.jpg"], "jpeg", {
              hint: { minSize: { width: 400, height: 300 } },
              allFrames: false,
            });
            canvas.resize({ width: 400, height: 300 });
            await magick.encode(canvas, { type: "jpeg", quality: 80 });
            canvas.dispose();
            times.push(performance.now() - start);
          }
          const median = times.sort((a, b) => a - b)[2];
          console.log(`${library}: median ${median.toFixed(1)} ms (${times.map(Math.round)})`);
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("openMagick() names the Debian package when the library is missing", () => {
  const missing = ["libNoSuchMagickWand.so.0"];
  assert.throws(
    () => openMagick("imagemagick", [{ ...imagemagick6, sonames: missing }]),
    /Cannot load imagemagick.*libNoSuchMagickWand\.so\.0.*"libmagickwand-6\.q16-6"/,
  );
  assert.throws(
    () => openMagick("graphicsmagick", [{ ...graphicsmagick, sonames: missing }]),
    /"libgraphicsmagick-q16-3"/,
  );
});
