// The reference for cache hits: a minimal `Deno.serve` answering the same bytes, in its own
// process like the server it is compared with. `deno run -A bench/ceiling.ts FILE` prints the
// port once it listens.
const bytes = await Deno.readFile(Deno.args[0]);
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(port),
}, () => new Response(bytes, { headers: { "content-type": "image/jpeg" } }));
