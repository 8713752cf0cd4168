// ipx serving the files of a directory on a free loopback port, as the benchmark's reference:
// `node bench/ipx/serve.mjs DIR` prints the port on its first line once it listens.
import { createServer } from "node:http";
import { createIPX, createIPXNodeServer, ipxFSStorage } from "ipx";

const ipx = createIPX({ storage: ipxFSStorage({ dir: process.argv[2] }) });
const server = createServer(createIPXNodeServer(ipx));
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
