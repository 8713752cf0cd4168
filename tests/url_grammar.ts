// URLs from impressionist's grammar (`/{chain}/{format}/{storage}/{path}`) with the numbers and
// names attackers reach for: every format's side limit -1/0/+1, powers of two around 16 and 32
// bits, 20 digits, and every property name a plain object or a function inherits, in every
// position of the URL.

/** The largest side each output format can encode (libjpeg stops JPEG at 65500). */
export const sideLimits: Record<string, number> = { jpeg: 65500, gif: 65535, webp: 16383 };

/** Every name a lookup in `{}` or on a function would find without a Map. */
export const builtInNames: readonly string[] = [
  ...new Set([
    ...Object.getOwnPropertyNames(Object.prototype),
    ...Object.getOwnPropertyNames(Function.prototype),
    "prototype",
  ]),
];

/** Numbers at every limit a client controls, as the URL spells them. */
export function boundaryNumbers(maxOutputSide: number): string[] {
  const around = (n: number) => [n - 1, n, n + 1];
  return [
    ...new Set([
      0,
      1,
      2,
      ...around(100),
      ...Object.values(sideLimits).flatMap(around),
      ...around(maxOutputSide),
      2 ** 15,
      2 ** 16,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32,
    ]),
  ].map(String).concat(["99999999999999999999", "-1", "01", "1.5", "1e3", ""]);
}

const qualities = ["0", "1", "50", "99", "100", "101", "2147483648", "99999999999999999999"];
const rotations = ["0", "90", "180", "270", "360", "-90", "45", "4294967386"];
const formats = ["png", "jpeg", "jpg", "webp", "gif", "auto", "jxl", "info"];

/** The URL positions a built-in name is tried in. */
const positions = [
  (name: string) => `/${name}/png/files/a.png`,
  (name: string) => `/${name},1/png/files/a.png`,
  (name: string) => `/s,${name}/png/files/a.png`,
  (name: string) => `/s,10x10,${name}/png/files/a.png`,
  (name: string) => `/gs/${name}/files/a.png`,
  (name: string) => `/gs/jpeg,${name}/files/a.png`,
  (name: string) => `/gs/png/${name}/a.png`,
  (name: string) => `/gs/png/files/${name}`,
];

/** Every built-in name in every position: the URLs that once wedged the worker pool. */
export function builtInUrls(): string[] {
  return builtInNames.flatMap((name) => positions.map((position) => position(name)));
}

/** For each format, `s,Nx1` and `s,1xN` for every boundary number N, on a small source. */
export function boundaryUrls(maxOutputSide: number): string[] {
  const numbers = boundaryNumbers(maxOutputSide);
  return formats.filter((format) => format !== "jpg").flatMap((format) =>
    numbers.flatMap((n) => [`/s,${n}x1/${format}/files/a.png`, `/s,1x${n}/${format}/files/a.png`])
  ).concat(numbers.map((n) => `/s,${n}x${n}/png/files/a.png`));
}

/** A random URL from the grammar, its numbers drawn from the boundaries. */
export function grammarUrl(
  random: () => number,
  sources: readonly string[],
  maxOutputSide: number,
  maxBlurSigma: number,
): string {
  const sigmas = [0, 0.5, 1, maxBlurSigma - 1, maxBlurSigma, maxBlurSigma + 1, maxBlurSigma + 1e-4]
    .map(String).concat(["32768", "2147483648", "1e999", "-1", "NaN"]);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const numbers = boundaryNumbers(maxOutputSide);
  const small = () => String(Math.floor(random() * 120));
  const number = () => random() < 0.5 ? pick(numbers) : small();
  const steps: (() => string)[] = [
    () => `s,${number()}x${number()}${pick(["", "+", "-", "%20"])}`,
    () => `c,${number()}x${number()}-${number()}x${number()}`,
    () => `b,${pick(sigmas)}`,
    () => `r,${pick(rotations)}`,
    () => `f,${pick(["h", "v", "x", ""])}`,
    () => "gs",
    () => "small",
  ];
  const chain = Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(steps)());
  const format = pick(formats) + (random() < 0.4 ? `,${pick([...qualities, "lossless"])}` : "");
  const parts = [chain.join(","), format, "files", pick(sources)];
  // One position in ten holds a built-in name instead.
  if (random() < 0.1) parts[Math.floor(random() * parts.length)] = pick(builtInNames);
  return `/${parts.join("/")}`;
}
