// Run by encoders_test.ts in a process started with --deny-ffi: the pure backend must decode
// and encode every format without loading a native module. Prints what it wrote, as JSON.
import { pureBackend } from "../lib/pure/backend.ts";
import { sniffFormat } from "../lib/image/sniff.ts";
import type { EncodedType, SourceFormat } from "../lib/image/formats.ts";
import { encode, photoLike } from "./helpers.ts";

await pureBackend.warmUp?.();
const written: Record<string, string | undefined> = {};
for (const type of ["png", "jpeg", "webp", "gif"] as EncodedType[]) {
  const source = type === "gif"
    ? await encode(photoLike(40, 30), "png")
    : await encode(photoLike(40, 30), type);
  const canvas = await pureBackend.decode(source, sniffFormat(source) as SourceFormat, {
    allFrames: true,
  });
  written[type] = sniffFormat(await pureBackend.encode(canvas, { type, quality: 80 }));
}
console.log(
  JSON.stringify({ ffi: (await Deno.permissions.query({ name: "ffi" })).state, written }),
);
