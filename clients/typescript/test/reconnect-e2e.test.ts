import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { WebSocket } from "ws";
import type { SyncClient } from "../src/client/client.js";
import { ErrorCode } from "../src/protocol/events.js";
import { FakeDoc, Server, eventually, mintToken } from "./support/server.js";
import { TestClients } from "./support/clients.js";

const clients = new TestClients();

/** A stand-in for the browser's `window`, as the client finds it on `globalThis`. */
function fakeWindow(): EventTarget & { install(): () => void } {
  const window = new EventTarget();
  return Object.assign(window, {
    install(): () => void {
      const g = globalThis as { addEventListener?: unknown };
      g.addEventListener = window.addEventListener.bind(window);
      return () => delete g.addEventListener;
    },
  });
}

describe("reconnecting before the back-off wait ends", () => {
  const server = new Server();
  const window = fakeWindow();
  let c: SyncClient;

  before(async () => {
    await server.start();
    const uninstall = window.install();
    try {
      // Every wait between attempts about two minutes: only a wake-up reconnects in time.
      c = await clients.connect(server.url, {
        clientId: "ts-wake",
        WebSocket,
        transport: "websocket",
        backoffBaseMs: 120_000,
        backoffMaxMs: 120_000,
        random: () => 0.99,
      });
    } finally {
      uninstall();
    }
    c.open("e2e-wake", new FakeDoc(c.actorId));
    await c.waitReceived("e2e-wake", 15_000);
  });

  after(async () => {
    await clients.closeAll();
    await server.dispose();
  });

  async function downAndBack(): Promise<void> {
    await server.stop();
    await eventually(() => !c.online, 10_000, "the client to notice the server went away");
    await server.start();
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(c.online, false, "still waiting out its back-off");
  }

  test("the window's online event reconnects at once", async () => {
    await downAndBack();
    window.dispatchEvent(new Event("online"));
    await eventually(() => c.online, 10_000, "online after the online event");
  });

  test("reconnectNow() reconnects at once; it changes nothing while connected", async () => {
    const before = c.connections;
    c.reconnectNow();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.connections, before);
    assert.equal(c.online, true);
    await downAndBack();
    c.reconnectNow();
    await eventually(() => c.online, 10_000, "online after reconnectNow()");
    assert.equal(c.connections, before + 1);
  });
});

describe("a wait the server asked for", () => {
  const server = new Server();
  let token = "";

  before(async () => {
    const config = join(server.dataDir, "limits.toml");
    writeFileSync(config, "[limits]\nmax_connections_per_principal = 1\n");
    server.args.push("--config", config);
    token = mintToken(await server.startWithJwtSecret(), "alice", { "*": "write" }, 600);
  });

  after(async () => {
    await clients.closeAll();
    await server.dispose();
  });

  test("is kept whatever reconnectNow() says (one connection too many: 5 s)", async () => {
    const first = await clients.connect(server.url, { clientId: "first", token, WebSocket, transport: "websocket" });
    first.open("d", new FakeDoc(first.actorId));
    await eventually(() => first.online, 10_000, "the first connection");
    const second = await clients.connect(server.url, {
      clientId: "second", token, WebSocket, transport: "websocket", backoffMaxMs: 200,
    });
    second.open("d", new FakeDoc(second.actorId));
    await eventually(() => second.engine.lastError?.code === ErrorCode.TOO_MANY, 10_000, "the second refused");
    const refused = Date.now();
    await first.close(); // the limit is free again
    while (Date.now() - refused < 2000) {
      second.reconnectNow();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(second.online, false, "reconnectNow() cut the wait the server asked for");
    await eventually(() => second.online, 10_000, "the second connection after its wait");
    assert.ok(Date.now() - refused >= 4000, `back after ${Date.now() - refused} ms`);
  });
});
