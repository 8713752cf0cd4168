// GraphicsMagick's InitializeMagick installs its own handlers for SIGHUP, SIGINT, SIGTERM and
// others, which print "quitting due to signal" and exit: a SIGHUP meant to reload the config
// killed a graphicsmagick server. The backend starts the library without them.
import assert from "node:assert/strict";
import { startBackendChild } from "./child_server.ts";
import { encode, photoLike } from "./helpers.ts";

Deno.test("graphicsmagick: SIGHUP reloads the config, and SIGTERM stops the server cleanly", async () => {
  const small = await encode(photoLike(64, 48), "png");
  const server = await startBackendChild({ "small.png": small }, "graphicsmagick");
  if (!server) return;
  try {
    // No request first: the library is started and nothing else has happened.
    await server.reload({ backend: "graphicsmagick", http: { timeout: "5s" } });
    assert.ok(server.alive(), `the server died: ${server.output().slice(-300)}`);
    assert.doesNotMatch(server.output(), /quitting due to signal/);
    const answer = await fetch(`${server.url}/b,2/png/files/small.png`);
    await answer.body?.cancel();
    assert.equal(answer.status, 200);

    Deno.kill(server.pid, "SIGTERM");
    for (let waited = 0; server.alive(); waited += 50) {
      assert.ok(waited < 10_000, "the server did not stop on SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.doesNotMatch(server.output(), /quitting due to signal/);
  } finally {
    await server.close();
  }
});
