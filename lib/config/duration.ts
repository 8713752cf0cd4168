const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go-style duration such as `500ms`, `30s`, `1m30s` or `1.5h` into milliseconds.
 * Returns undefined when the text is not a positive duration.
 *
 * @example parseDuration("1m30s") // 90000
 */
export function parseDuration(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  const total = parts.reduce((sum, [, value, unit]) => sum + Number(value) * units[unit], 0);
  return total > 0 ? total : undefined;
}
