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
 * Runs `open` (which starts ImageMagick) with the project's policy (lib/magick/policy.xml: the
 * formats we hand it, and `limits`, from the config) ahead of the system's: a private copy
 * in a fresh directory that `MAGICK_CONFIGURE_PATH` points at while the library starts.
 * ImageMagick reads that directory first, and the first file to set a resource limit sets its
 * ceiling, so Debian's policy.xml (memory 256MiB, map 512MiB, 16KP sides) no longer caps what
 * our limits allow. The library reads its policy once, when it starts: afterwards the variable
 * is put back (so no program the process runs inherits it) and the copy removed.
 */
export function withProjectPolicy<T>(limits: Readonly<Record<Resource, number>>, open: () => T): T {
  // A private directory (mode 0700): nobody else can put a policy of their own in its place.
  const dir = Deno.makeTempDirSync({ prefix: "impressionist-magick-" });
  const before = Deno.env.get("MAGICK_CONFIGURE_PATH");
  try {
    Deno.writeTextFileSync(join(dir, "policy.xml"), renderPolicy(limits));
    Deno.env.set("MAGICK_CONFIGURE_PATH", dir);
    return open();
  } finally {
    if (before === undefined) Deno.env.delete("MAGICK_CONFIGURE_PATH");
    else Deno.env.set("MAGICK_CONFIGURE_PATH", before);
    Deno.removeSync(dir, { recursive: true });
  }
}
