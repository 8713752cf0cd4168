import assert from "node:assert/strict";
import { rgbaToThumbHash, thumbHashToDataURL } from "thumbhash";
import { imageInfo, imageUrl, placeholderDataUrl, resize } from "../client.ts";
import { encode, makeBitmap, photoLike, startTestServer } from "./helpers.ts";

Deno.test("placeholderDataUrl() gives the reference's PNG, byte for byte", () => {
  for (
    const [width, height, alpha] of [[100, 60, false], [40, 100, true], [1, 1, false], [
      100,
      100,
      true,
    ]] as const
  ) {
    const image = makeBitmap(
      width,
      height,
      (x, y) => [x * 2, y * 2, (x * y) & 255, alpha ? (x * 5) & 255 : 255],
    );
    const hash = rgbaToThumbHash(width, height, image.data);
    const url = placeholderDataUrl(btoa(String.fromCharCode(...hash)));
    assert.equal(url, thumbHashToDataURL(hash), `${width}x${height}`);
    assert.match(url, /^data:image\/png;base64,/);
  }
  assert.throws(() => placeholderDataUrl("not base64!"), RangeError);
  assert.throws(() => placeholderDataUrl("AAA="), /too short/);
});

Deno.test("imageInfo() builds the info URL, signed like imageUrl, that the server answers", async () => {
  const options = { base: "https://img.example.com", storage: "photos", path: "a b/cat.jpg" };
  assert.equal(
    await imageInfo(options),
    "https://img.example.com/impressionist/none/info/photos/a%20b/cat.jpg",
  );
  const keys = { key: "736563726574", salt: "68656c6c6f" };
  assert.equal(
    await imageInfo({ ...options, ...keys, chain: [resize(64, 0)] }),
    await imageUrl({ ...options, ...keys, chain: [resize(64, 0)], format: "info" }),
  );
  const server = await startTestServer(
    { "photo.png": await encode(photoLike(120, 80), "png") },
    { security: { keys: [keys] } },
  );
  try {
    const base = server.url.replace(/\/impressionist$/, "");
    const url = await imageInfo({
      base,
      storage: "files",
      path: "photo.png",
      chain: [resize(60, 0)],
      ...keys,
    });
    const answer = await (await fetch(url)).json();
    assert.deepEqual([answer.width, answer.height], [60, 40]);
    const source = await imageInfo({ base, storage: "files", path: "photo.png", ...keys });
    assert.match(source, /\/none\/info\/files\/photo\.png$/);
    const whole = await (await fetch(source)).json();
    assert.deepEqual([whole.width, whole.height], [120, 80]);
    assert.match(placeholderDataUrl(answer.thumbhash), /^data:image\/png;base64,/);
  } finally {
    await server.close();
  }
});

Deno.test("playground: /playground/placeholder draws a ThumbHash, or says what is wrong", async () => {
  const server = await startTestServer({}, { http: { playground: true } });
  try {
    const origin = server.url.replace(/\/impressionist$/, "");
    const hash = rgbaToThumbHash(8, 4, new Uint8Array(8 * 4 * 4).fill(200));
    const thumbhash = btoa(String.fromCharCode(...hash));
    const good = await fetch(
      `${origin}/playground/placeholder?thumbhash=${encodeURIComponent(thumbhash)}`,
    );
    assert.equal(good.status, 200);
    assert.equal((await good.json()).url, thumbHashToDataURL(hash));
    for (const query of ["", "?thumbhash=", "?thumbhash=%25%25", "?thumbhash=AAA%3D"]) {
      const bad = await fetch(`${origin}/playground/placeholder${query}`);
      assert.equal(bad.status, 400, query);
      await bad.body?.cancel();
    }
  } finally {
    await server.close();
  }
});
