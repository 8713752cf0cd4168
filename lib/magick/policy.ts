import { join } from "node:path";
import type { Resource } from "./dialects.ts";

const template = new URL("./policy.xml", import.meta.url);

/** The project's policy.xml with the resource limits filled in. */
export function renderPolicy(limits: Readonly<Record<Resource, number>>): string {
  return Deno.readTextFileSync(template).replace(
    /\{\{(\w+)\}\}/g,
    (_, name: string) => String(limits[name as Resource]),
  );
}

/**
 * Makes ImageMagick load the project's policy (lib/magick/policy.xml: the six formats we hand
 * it, and `limits`, from the config) ahead of the system's, by pointing
 * `MAGICK_CONFIGURE_PATH` at a private copy: ImageMagick reads that directory first, and the
 * first file to set a resource limit sets it, so Debian's policy.xml (memory 256MiB, map 512MiB,
 * 16KP sides) no longer caps what our limits allow. Must run before the library starts; the
 * process's workers share one copy (the variable is process-wide), written once.
 */
export function useProjectPolicy(limits: Readonly<Record<Resource, number>>): void {
  const policy = renderPolicy(limits);
  const current = Deno.env.get("MAGICK_CONFIGURE_PATH");
  try {
    if (current && Deno.readTextFileSync(join(current, "policy.xml")) === policy) return;
  } catch {
    // Not ours (or gone): write a fresh copy.
  }
  // A private directory (mode 0700): nobody else can put a policy of their own in its place.
  const dir = Deno.makeTempDirSync({ prefix: "impressionist-magick-" });
  Deno.writeTextFileSync(join(dir, "policy.xml"), policy);
  Deno.env.set("MAGICK_CONFIGURE_PATH", dir);
}
