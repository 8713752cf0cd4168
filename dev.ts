// `deno task dev`: runs main.ts with the given arguments and restarts it when a source file or
// the config file changes. Not Deno's own `--watch`: that one keeps waiting for a file change
// after the server has stopped on SIGTERM, so neither a supervisor nor `kill` could end it.
// Here SIGINT and SIGTERM go to the server, and this process exits with it.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = dirname(fileURLToPath(import.meta.url));
const watched = ["main.ts", "client.ts", "lib", "filters", "storages"].map((p) => join(root, p));
const source = /\.(?:ts|js|html|css|json)$/;

// main.ts reads `-cfg`/`--cfg`; its file is watched too.
const normalised = Deno.args.map((arg) => /^-cfg(=|$)/.test(arg) ? `-${arg}` : arg);
const { values } = parseArgs({
  args: normalised,
  strict: false,
  options: { cfg: { type: "string", default: "./impressionist.json" } },
});

function startServer(): Deno.ChildProcess {
  const args = ["run", "--allow-all", join(root, "main.ts"), ...Deno.args];
  return new Deno.Command(Deno.execPath(), { args }).spawn();
}

/** Signals the server; it may have ended already (a bad config, a crash). */
function stopServer(signal: Deno.Signal): void {
  try {
    server.kill(signal);
  } catch {
    // already gone: its status is settled
  }
}

let server = startServer();
let stopping = false;
const watcher = Deno.watchFs([...watched, String(values.cfg)]);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    stopping = true;
    watcher.close();
    stopServer(signal);
    Deno.exit((await server.status).code);
  });
}

let restart: ReturnType<typeof setTimeout> | undefined;
for await (const event of watcher) {
  if (stopping || !event.paths.some((path) => source.test(path))) continue;
  // An editor's save is several events: restart once they settle.
  clearTimeout(restart);
  restart = setTimeout(async () => {
    console.log(`dev: ${event.paths[0]} changed, restarting`);
    stopServer("SIGTERM");
    await server.status;
    if (!stopping) server = startServer();
  }, 200);
}
