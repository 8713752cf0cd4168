/// <reference lib="deno.worker" />
// A bench worker: prepares a recipe, runs it `count` times on the bytes it is sent and answers
// the bytes of its last output.
import { prepare, type Recipe } from "./recipes.ts";

self.onmessage = async (
  { data }: MessageEvent<{ recipe: Recipe; bytes: Uint8Array; count: number }>,
) => {
  const run = await prepare(data.recipe);
  await run(data.bytes); // warm-up, outside the timing
  self.postMessage({ ready: true });
  await new Promise((resolve) => self.onmessage = resolve);
  let size = 0;
  for (let i = 0; i < data.count; i++) size = await run(data.bytes);
  self.postMessage({ size });
};
