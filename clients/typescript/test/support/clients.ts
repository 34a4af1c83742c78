/** Test support: sync clients connected with a fast back-off, closed together afterwards. */
import { WebSocket } from "ws";
import { connect, type SyncClient } from "../../src/client/client.js";

/** The clients a test file connects; {@link TestClients.closeAll} in its `after` hook. */
export class TestClients {
  private readonly open: SyncClient[] = [];

  /** @param backoffMaxMs - the longest back-off between reconnects (the base is 50 ms). */
  constructor(private readonly backoffMaxMs = 500) {}

  /** Connect a client to `url` (over `ws`'s WebSocket), remembered for {@link closeAll}. */
  async connect(url: string, extra: Parameters<typeof connect>[1] = {}): Promise<SyncClient> {
    const c = await connect(url, { WebSocket, backoffBaseMs: 50, backoffMaxMs: this.backoffMaxMs, ...extra });
    this.open.push(c);
    return c;
  }

  /** Close every client connected so far. */
  async closeAll(): Promise<void> {
    for (const c of this.open.splice(0)) await c.close();
  }
}
