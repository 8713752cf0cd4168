import type { Filter } from "./filter.ts";

/** `gs`: luma Y = 0.299R + 0.587G + 0.114B in every channel, alpha kept. */
export const grayscale: Filter<null> = {
  name: "gs",
  arity: 0,
  doc: {
    summary: "Grayscale: luma 0.299R + 0.587G + 0.114B, alpha kept",
    template: "",
    fields: [],
  },
  parse: () => null,
  size: (input) => input,
  apply(canvas) {
    canvas.grayscale();
  },
};
