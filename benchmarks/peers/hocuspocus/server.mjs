// Hocuspocus as its docs deploy it (`new Server({...}).listen()`), for bench_server.py.
// argv[2]: the port. Prints the base URL once listening. GET /connections answers the number of
// open connections (an onRequest hook; nothing per connection).
import { Server } from "@hocuspocus/server";

const port = Number(process.argv[2]);
const server = new Server({
  port,
  address: "127.0.0.1",
  quiet: true,
  async onRequest({ request, response }) {
    if (request.url === "/connections") {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ connections: server.hocuspocus.getConnectionsCount() }));
      throw null; // Hocuspocus' way to say "answered, skip the default response"
    }
  },
});
await server.listen();
console.log(`http://127.0.0.1:${server.address.port}`);
