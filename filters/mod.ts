import { blur } from "./blur.ts";
import { brightness } from "./brightness.ts";
import { contrast } from "./contrast.ts";
import { crop } from "./crop.ts";
import type { Filter } from "./filter.ts";
import { flip } from "./flip.ts";
import { grayscale } from "./grayscale.ts";
import { pad } from "./pad.ts";
import { resize } from "./resize.ts";
import { rotate } from "./rotate.ts";
import { saturation } from "./saturation.ts";
import { watermark } from "./watermark.ts";
import { sharpen } from "./sharpen.ts";

/** Every filter by its chain token. Adding a filter is one module and one line here. */
export const filters: ReadonlyMap<string, Filter<unknown>> = new Map(
  ([
    crop,
    resize,
    flip,
    rotate,
    grayscale,
    blur,
    sharpen,
    brightness,
    contrast,
    saturation,
    pad,
    watermark,
  ] as Filter<
    never
  >[]).map((f) => [f.name, f]),
);
