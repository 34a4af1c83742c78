import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import type { SyncClient } from "../src/client/client.js";
import { FakeDoc, Server, eventually } from "./support/server.js";
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
