// The config keys of the newer filters and formats: AVIF, background, watermarks.
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../lib/config/config.ts";

const parse = (image: Record<string, unknown>) => parseConfig({ image }, "/tmp");

Deno.test("config: AVIF and background keys have their defaults", () => {
  const { image } = parse({});
  assert.equal(image.avifQuality, 50);
  assert.equal(image.autoAvif, false);
  assert.equal(image.background, "ffffff");
  assert.equal(parse({ background: "3366CC" }).image.background, "3366cc");
});

Deno.test("config: bad AVIF and background values name the key", () => {
  for (
    const [image, key] of [
      [{ avifQuality: 0 }, "image.avifQuality"],
      [{ avifQuality: 101 }, "image.avifQuality"],
      [{ autoAvif: "yes" }, "image.autoAvif"],
      [{ background: "white" }, "image.background"],
      [{ background: "ffffff80" }, "image.background"],
      [{ background: 0xffffff }, "image.background"],
    ] as const
  ) {
    assert.throws(
      () => parse(image),
      (e) => e instanceof ConfigError && e.message.includes(key),
      JSON.stringify(image),
    );
  }
});

const storages = [{ name: "assets", type: "local", path: "." }];

Deno.test("config: watermarks take their defaults and are known to wm", () => {
  const config = parseConfig({
    storages,
    watermarks: [{ name: "logo", storage: "assets", path: "logo.png" }],
    filters: [{ name: "marked", definition: "s,100x0,wm,logo" }],
  }, "/tmp");
  assert.deepEqual(config.watermarks.get("logo"), {
    name: "logo",
    storage: "assets",
    path: "logo.png",
    gravity: "se",
    opacity: 1,
    scale: 0.2,
    margin: 0,
  });
  assert.equal(config.presets.get("marked")![1].name, "wm");
});

Deno.test("config: bad watermarks name the key or the problem", () => {
  const mark = { name: "logo", storage: "assets", path: "logo.png" };
  for (
    const [entry, problem] of [
      [{ ...mark, storage: "nowhere" }, /watermarks\[0\].storage" names no configured storage/],
      [{ ...mark, gravity: "c" }, /watermarks\[0\].gravity" must be one of/],
      [{ ...mark, opacity: 1.5 }, /watermarks\[0\].opacity" must be a number from 0 to 1/],
      [{ ...mark, scale: 0 }, /watermarks\[0\].scale" must be a number from 0.001 to 1/],
      [{ ...mark, margin: -1 }, /watermarks\[0\].margin" must be an integer/],
      [{ ...mark, name: "a b" }, /may use only letters/],
      [{ ...mark, colour: "red" }, /Unknown config key "watermarks\[0\].colour"/],
      [{ name: "logo", storage: "assets" }, /watermarks\[0\].path/],
    ] as const
  ) {
    assert.throws(
      () => parseConfig({ storages, watermarks: [entry] }, "/tmp"),
      (e) => e instanceof ConfigError && problem.test(e.message),
      JSON.stringify(entry),
    );
  }
  assert.throws(
    () => parseConfig({ storages, watermarks: [mark, mark] }, "/tmp"),
    (e) => e instanceof ConfigError && /defined twice/.test(e.message),
  );
  assert.throws(
    () => parseConfig({ storages, filters: [{ name: "p", definition: "wm,logo" }] }, "/tmp"),
    (e) => e instanceof ConfigError && /Unknown watermark "logo"/.test(e.message),
  );
});
