/** One finished request, as the access log records it. */
export interface AccessRecord {
  id: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  ms: number;
  /** How the answer was made, such as `source=hit result=miss`; absent for non-image routes. */
  cache?: string;
  /** The expanded filter chain; logged with -debug only. */
  chain?: string;
}

/**
 * Formats an access record as one line: a JSON object when `format` is `json`, otherwise
 * text. The chain is included only when `verbose` (-debug).
 */
export function formatAccess(
  record: AccessRecord,
  format: "text" | "json",
  verbose: boolean,
): string {
  const time = new Date().toISOString();
  const { chain, ...fields } = record;
  const shown = verbose && chain ? { ...fields, chain } : fields;
  if (format === "json") return JSON.stringify({ time, ...shown });
  const { id, method, path, status, bytes, ms, cache } = record;
  const extra = [cache, "chain" in shown ? `chain=[${chain}]` : ""].filter(Boolean).join(" ");
  return `${time} ${id} ${method} ${path} ${status} ${bytes}B ${ms.toFixed(1)}ms ${extra}`
    .trimEnd();
}
