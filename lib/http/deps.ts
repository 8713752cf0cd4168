import type { FlowDeps } from "../flow/deps.ts";
import type { ServerMetrics } from "./metrics.ts";

/**
 * Everything the HTTP layer works with: the flow's dependencies and the metrics. A reload
 * (SIGHUP) builds a new one around the same pool, caches and metrics; each request uses the
 * one current when it began.
 */
export interface ServerDeps extends FlowDeps {
  metrics: ServerMetrics;
}
