// The newer filters through a real server on every installed backend: the windows a fill
// keeps, colour adjustments, padding, watermarks and AVIF, checked on pixels a user would see.
import assert from "node:assert/strict";
import type { Bitmap } from "../lib/image/bitmap.ts";
import {
  decode,
  encode,
  quadrantAt,
  quadrants,
  startBackendServer,
  type TestServer,
} from "./helpers.ts";

const backends = ["pure", "imagemagick", "graphicsmagick"] as const;

async function files(): Promise<Record<string, Uint8Array>> {
  return { "quadrants.png": await encode(quadrants(400), "png") };
}

/** Fetches `path` below the root; the decoded image, or throws with the status and body. */
async function image(server: TestServer, path: string): Promise<Bitmap> {
  const response = await fetch(`${server.url}/${path}`);
  const body = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) {
    throw new Error(`${path}: ${response.status} ${new TextDecoder().decode(body)}`);
  }
  return decode(body);
}

/** Runs `check` against a server on `backend`; nothing (the helper says why) when it is missing. */
async function onBackend(
  backend: string,
  check: (server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startBackendServer(await files(), backend);
  if (!server) return;
  try {
    await check(server);
  } finally {
    await server.close();
  }
}

for (const backend of backends) {
  Deno.test(`${backend}: a fill keeps the window its gravity or focus point names`, () =>
    onBackend(backend, async (server) => {
      // Covering size 200x200; see filters_test.ts for the table's reading.
      const expected: Record<string, [tall: string, wide: string]> = {
        "": ["rg", "rb"],
        n: ["rg", "rr"],
        s: ["rg", "bb"],
        e: ["gg", "rb"],
        w: ["rr", "rb"],
        ne: ["gg", "rr"],
        nw: ["rr", "rr"],
        se: ["gg", "bb"],
        sw: ["rr", "bb"],
        "f0:0": ["rr", "rr"],
        "f1:1": ["gg", "bb"],
      };
      for (const [anchor, [tall, wide]] of Object.entries(expected)) {
        const column = await image(server, `s,100x200-${anchor}/png/files/quadrants.png`);
        assert.deepEqual([column.width, column.height], [100, 200]);
        assert.equal(quadrantAt(column, 10, 10) + quadrantAt(column, 90, 10), tall, anchor);
        const row = await image(server, `s,200x100-${anchor}/png/files/quadrants.png`);
        assert.deepEqual([row.width, row.height], [200, 100]);
        assert.equal(quadrantAt(row, 10, 10) + quadrantAt(row, 10, 90), wide, anchor);
      }
      // x = round(0.6 × 200 − 50) = 70: the red/green border lands at x = 30.
      const focus = await image(server, "s,100x200-f0.6:0.5/png/files/quadrants.png");
      assert.equal(quadrantAt(focus, 24, 10) + quadrantAt(focus, 36, 10), "rg");
    }));
}
