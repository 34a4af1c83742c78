import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { connect, type SyncClient } from "../src/client/client.js";
import { FakeDoc, Server, eventually, python, pythonChanges, pythonDecode } from "./support/server.js";

const clients: SyncClient[] = [];

async function client(url: string, extra: Parameters<typeof connect>[1] = {}): Promise<SyncClient> {
  const c = await connect(url, { WebSocket, backoffBaseMs: 50, backoffMaxMs: 500, ...extra });
  clients.push(c);
  return c;
}

describe("against a real synckit serve", () => {
  const server = new Server();

  before(async () => {
    await server.start();
  });

  after(async () => {
    for (const c of clients.splice(0)) await c.close();
    await server.dispose();
  });

  test("connect, subscribe, push, ack: Python reads what the TS client pushed", async () => {
    const c = await client(server.url, { clientId: "ts-push" });
    const doc = new FakeDoc(c.actorId);
    c.open("e2e-push", doc);
    await c.waitReceived("e2e-push", 15_000);
    assert.equal(c.online, true);
    doc.edit(await pythonChanges(c.actorId, { greeting: "hello from ts" }));
    await c.waitSynced(15_000);
    assert.ok(c.engine.ackedPushes >= 1);
    assert.deepEqual(await python("read", server.url, "e2e-push"), { m: { greeting: "hello from ts" } });
  });

  test("broadcast: a Python client's edit reaches the TS client's document", async () => {
    const c = await client(server.url, { clientId: "ts-recv" });
    const doc = new FakeDoc(c.actorId);
    c.open("e2e-broadcast", doc);
    await c.waitReceived("e2e-broadcast", 15_000);
    await python("push", server.url, "e2e-broadcast", "colour=blue");
    await eventually(async () => {
      const got = (await pythonDecode(doc.received.filter((b) => b.length > 2))) as { m?: Record<string, string> };
      return got.m?.["colour"] === "blue";
    }, 15_000, "the broadcast");
  });
});
