// The project owns the magick libraries' limits: ImageMagick loads the project's policy.xml
// (lib/magick/policy.xml) ahead of the system's, and GraphicsMagick's environment limits are
// replaced by ours. So neither Debian's tight defaults (ImageMagick: memory 256MiB, map 512MiB,
// 16KP sides) refuse what our limits allow, a blur of a 4096x4096 photo, nor a looser file
// found later (here a user's policy.xml, read after the system's) lets more through.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createMagickBackend } from "../lib/magick/backend.ts";
import { openMagick } from "../lib/magick/library.ts";
import { resourceLimits } from "../lib/magick/limits.ts";
import { renderPolicy } from "../lib/magick/policy.ts";
import type { MagickLibrary } from "../lib/magick/library.ts";
import { encode, photoLike } from "./helpers.ts";

const limits = { maxSourcePixels: 50_000_000, maxOutputPixels: 50_000_000 };
const ours = resourceLimits(limits, 1);

// Set before either library loads in this process: a user's ImageMagick policy (read after the
// system's) that would loosen every limit, and GraphicsMagick limits in its environment, some
// tighter and some looser than ours.
const loose = await Deno.makeTempDir();
await Deno.mkdir(join(loose, "ImageMagick"));
await Deno.writeTextFile(
  join(loose, "ImageMagick", "policy.xml"),
  `<policymap>
  <policy domain="resource" name="memory" value="64GiB"/>
  <policy domain="resource" name="map" value="64GiB"/>
  <policy domain="resource" name="width" value="1000KP"/>
  <policy domain="resource" name="height" value="1000KP"/>
  <policy domain="resource" name="area" value="10GP"/>
</policymap>`,
);
Deno.env.set("XDG_CONFIG_HOME", loose);
Deno.env.set("MAGICK_LIMIT_MEMORY", "64MB");
Deno.env.set("MAGICK_LIMIT_MAP", "64MB");
Deno.env.set("MAGICK_LIMIT_PIXELS", "100000000000");
Deno.env.set("MAGICK_LIMIT_WIDTH", "10000000");

/** A 4096x4096 photo: its blur needs more pixel cache than Debian's policy gives. */
const photo = await encode(photoLike(4096, 4096), "jpeg");

/** The backend, or undefined (printed) where its library is not installed, except in CI. */
function backendOf(library: MagickLibrary) {
  try {
    return createMagickBackend(library, limits);
  } catch (error) {
    if (Deno.env.get("CI") === "true" || !/Cannot load/.test(String(error))) throw error;
    console.log(`skipped ${library}: ${(error as Error).message}`);
    return undefined;
  }
}

for (const library of ["imagemagick", "graphicsmagick"] as const) {
  Deno.test(`magick policy: ${library} runs with our limits, not the system's, and blurs a 4096x4096 photo`, async () => {
    const backend = backendOf(library);
    if (!backend) return;
    // The library's own record of its limits, read back after the backend set them up
    // (GraphicsMagick's wand answers 0 for every limit: its core library is asked instead).
    const api = openMagick(library);
    const read = library === "imagemagick" ? api.c.MagickGetResourceLimit! : Deno.dlopen(
      "libGraphicsMagick-Q16.so.3",
      { GetMagickResourceLimit: { parameters: ["u32"], result: "u64" } },
    ).symbols.GetMagickResourceLimit;
    for (const resource of ["width", "height", "area", "memory", "map"] as const) {
      assert.equal(
        Number(read(api.dialect.resources[resource])),
        ours[resource],
        `${library} ${resource}`,
      );
    }
    if (library === "imagemagick") {
      // Put back once the library has read it: programs the server runs do not inherit it.
      assert.equal(Deno.env.get("MAGICK_CONFIGURE_PATH"), undefined);
      assert.equal(backend.maxSide, undefined, "a side limit of the library's own");
    }
    const canvas = await backend.decode(photo, "jpeg", { allFrames: false });
    try {
      canvas.blur(0.5);
      const bytes = await backend.encode(canvas, { type: "jpeg", quality: 80 });
      assert.ok(bytes.length > 1000);
    } finally {
      canvas.dispose();
    }
  });
}

Deno.test("magick policy: the shipped file enables only the formats we hand the library (six, and PAM for decoded AVIF)", async () => {
  const policy = renderPolicy(ours);
  const rules = [...policy.matchAll(/<policy domain="coder" rights="([^"]*)" pattern="([^"]*)"/g)];
  assert.deepEqual(rules.map(([, rights, pattern]) => `${rights} ${pattern}`), [
    "none *",
    "read|write {JPEG,PNG,GIF,TIFF,WEBP,BMP,PAM}",
  ]);
  assert.match(policy, new RegExp(`name="area" value="${ours.area}"`));
  assert.doesNotMatch(policy, /\{\{/);
  await Deno.remove(loose, { recursive: true });
});
