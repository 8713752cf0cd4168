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
