// Run by storage_http_test.ts in a process of its own, so that no other test's memory is
// counted. `read COUNT MIB KIND` reads COUNT sources of MIB MiB at once through the http
// storage, twice, and prints the RSS growth in MiB of each burst, at its peak and with
// its sources held (needs --v8-flags=--expose-gc, to release a burst's sources before the
// next). The origin runs in yet another process (`origin MIB KIND`), so that its buffers are
// not counted either. KIND is "length" (the origin sends a Content-Length) or "chunked".
import { ConfigReader } from "../lib/config/reader.ts";
import { createHttpStorage } from "../storages/http.ts";

const [mode, ...args] = Deno.args;
if (mode === "origin") serveOrigin(Number(args[0]) * 1024 * 1024, args[1]);
if (mode === "read") await read(Number(args[0]), Number(args[1]), args[2]);

function serveOrigin(size: number, kind: string) {
  const block = new Uint8Array(1024 * 1024).fill(7);
  const onListen = ({ port }: Deno.NetAddr) => console.log(port);
  Deno.serve({ port: 0, hostname: "127.0.0.1", onListen }, () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const length = Math.min(block.length, size - sent);
        if (length === 0) return controller.close();
        controller.enqueue(block.subarray(0, length));
        sent += length;
      },
    });
    const headers: HeadersInit = kind === "length" ? { "content-length": `${size}` } : {};
    return new Response(body, { headers });
  });
}

async function read(count: number, mib: number, kind: string) {
  const origin = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "origin", `${mib}`, kind],
    stdout: "piped",
  }).spawn();
  const lines = origin.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await lines.read()).value);
  const reader = ConfigReader.of(
    { baseUrl: `http://127.0.0.1:${port}/`, timeout: "5m" },
    "storages[0]",
  );
  const storage = await createHttpStorage({ name: "origin", type: "http", reader }, ".");
  const options = { maxBytes: mib * 1024 * 1024 };
  const gc = (globalThis as unknown as { gc: () => void }).gc;
  const rss = () => Deno.memoryUsage().rss;
  const toMiB = (bytes: number) => Math.round(bytes / 1024 / 1024);

  await storage.get("warm-up", options);
  gc();
  const before = rss();
  // Several bursts: memory freed after one must serve the next rather than add to it.
  const bursts = [];
  for (let burst = 0; burst < 2; burst++) {
    let peak = rss();
    const sampler = setInterval(() => peak = Math.max(peak, rss()), 5);
    let sources = await Promise.all(
      Array.from({ length: count }, (_, i) => storage.get(`${burst}-${i}`, options)),
    );
    const held = rss();
    clearInterval(sampler);
    sources = [];
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
    bursts.push({ peak: toMiB(peak - before), held: toMiB(held - before), sources });
  }
  origin.kill();
  await lines.cancel();
  await origin.status;
  console.log(JSON.stringify(bursts.map(({ peak, held }) => ({ peak, held }))));
}
