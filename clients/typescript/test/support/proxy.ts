/** Test support: an HTTP proxy that refuses WebSocket upgrades (as some proxies do). */
import { createServer, request, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";

/** An HTTP proxy to `target` that refuses every WebSocket upgrade; resolves to [server, url]. */
export function noUpgradeProxy(target: string): Promise<[HttpServer, string]> {
  const to = new URL(target);
  const proxy = createServer((req, res) => {
    const out = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on("error", () => { res.writeHead(502); res.end(); });
    req.pipe(out);
  });
  proxy.on("upgrade", (_req, socket) => {
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  });
  return new Promise((ok) => proxy.listen(0, "127.0.0.1", () => {
    ok([proxy, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`]);
  }));
}
