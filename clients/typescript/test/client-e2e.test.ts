import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Server as HttpServer } from "node:http";
import { WebSocket } from "ws";
import { connect, type SyncClient } from "../src/client/client.js";
import { PermissionDeniedError } from "../src/errors.js";
import { ErrorCode, type ErrorEvent } from "../src/protocol/events.js";
import type { PresenceChange } from "../src/client/presence.js";
import { noUpgradeProxy } from "./support/proxy.js";
import { FakeDoc, Server, eventually, mintToken, python, pythonChanges, pythonDecode } from "./support/server.js";
import { TestClients } from "./support/clients.js";

const clients = new TestClients();

const client = (url: string, extra: Parameters<typeof connect>[1] = {}): Promise<SyncClient> =>
  clients.connect(url, extra);

describe("against a real synckit serve", () => {
  const server = new Server();

  before(async () => {
    await server.start();
  });

  after(async () => {
    await clients.closeAll();
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

  test("server restart: back-off while it is down, then reconnect, resubscribe, resend", async () => {
    let attempts = 0;
    class CountingWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        attempts += 1;
      }
    }
    const c = await client(server.url, { clientId: "ts-restart", WebSocket: CountingWebSocket, transport: "websocket" });
    const statuses: boolean[] = [];
    c.onStatus((online) => statuses.push(online));
    const doc = new FakeDoc(c.actorId);
    c.open("e2e-restart", doc);
    await c.waitReceived("e2e-restart", 15_000);
    await server.stop();
    await eventually(() => !c.online, 10_000, "offline");
    const edit = await pythonChanges(c.actorId, { offline: "edit" });
    doc.edit(edit); // made while the server is down: queued
    assert.deepEqual(c.engine.unsynced(), ["e2e-restart"]);
    const before = attempts;
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(attempts - before >= 2, `reconnect attempts while down: ${attempts - before}`);
    assert.ok(attempts - before < 40, `back-off should space attempts out: ${attempts - before}`);
    await server.start();
    await c.waitSynced(20_000);
    assert.ok(c.connections >= 2);
    assert.deepEqual(statuses.slice(0, 3), [true, false, true]);
    assert.deepEqual(await python("read", server.url, "e2e-restart"), { m: { offline: "edit" } });
  });

  test("presence between two TS clients", async () => {
    const a = await client(server.url, { clientId: "ts-ada" });
    const b = await client(server.url, { clientId: "ts-bob" });
    a.open("e2e-presence", new FakeDoc(a.actorId));
    b.open("e2e-presence", new FakeDoc(b.actorId));
    const changes: PresenceChange[] = [];
    const pb = b.presence("e2e-presence");
    pb.observe((change) => changes.push(change));
    await a.waitReceived("e2e-presence", 15_000);
    await b.waitReceived("e2e-presence", 15_000);
    const pa = a.presence("e2e-presence");
    assert.equal(pa.available, true);
    pa.set({ name: "Ada", cursor: 5 });
    await eventually(() => [...pb.others.values()].some((p) => p.state["name"] === "Ada"), 10_000, "Ada's presence");
    const peer = [...pb.others.values()][0]!;
    assert.equal(peer.clientId, a.actorId);
    assert.deepEqual(peer.state, { name: "Ada", cursor: 5 });
    assert.ok(changes.some((ch) => ch.updated.length > 0));
    assert.equal(pa.others.size, 0); // never one's own entry... until Bob sets his
    pb.set({ name: "Bob" });
    await eventually(() => pa.others.size === 1, 10_000, "Bob's presence");
    pa.clear();
    await eventually(() => pb.others.size === 0, 10_000, "Ada's presence cleared");
    assert.ok(changes.some((ch) => ch.removed.length > 0));
  });
});

describe("with JWT authentication", () => {
  const server = new Server();
  let secret = "";

  before(async () => {
    secret = await server.startWithJwtSecret();
  });

  after(async () => {
    await clients.closeAll();
    await server.dispose();
  });

  test("an expired token makes the client ask the callback again", async () => {
    const asked: string[] = [];
    const c = await client(server.url, {
      clientId: "ts-token",
      getToken: () => {
        const token = asked.length === 0
          ? mintToken(secret, "alice", { "*": "write" }, -120) // expired two minutes ago
          : mintToken(secret, "alice", { "*": "write" }, 3600);
        asked.push(token);
        return token;
      },
    });
    const errors: unknown[] = [];
    c.onError((e) => errors.push(e));
    const doc = new FakeDoc(c.actorId);
    c.open("e2e-token", doc);
    await c.waitReceived("e2e-token", 15_000);
    assert.ok(asked.length >= 2, `token callback calls: ${asked.length}`);
    doc.edit(await pythonChanges(c.actorId, { auth: "ok" }));
    await c.waitSynced(15_000);
    assert.equal(c.connections, 1);
    assert.deepEqual(errors, []);
  });

  test("a token about to expire is renewed on the open connection", async () => {
    let asked = 0;
    const c = await client(server.url, {
      clientId: "ts-renew",
      token: async () => {
        asked += 1;
        return mintToken(secret, "alice", { "*": "write" }, 4);
      },
    });
    c.open("e2e-renew", new FakeDoc(c.actorId));
    await c.waitReceived("e2e-renew", 15_000);
    await eventually(() => asked >= 3, 12_000, "two renewals");
    assert.equal(c.connections, 1); // renewed without reconnecting
    assert.equal(c.online, true);
  });

  test("a read-only principal's push is refused and surfaced, not silently dropped", async () => {
    const rejected: [string, ErrorEvent][] = [];
    const c = await client(server.url, {
      clientId: "ts-reader",
      token: mintToken(secret, "reader", { "*": "read" }, 3600),
    });
    c.onRejected((docId, error) => rejected.push([docId, error]));
    const doc = new FakeDoc(c.actorId);
    c.open("e2e-readonly", doc);
    await c.waitReceived("e2e-readonly", 15_000);
    doc.edit(await pythonChanges(c.actorId, { forbidden: "write" }));
    await assert.rejects(c.waitSynced(15_000), PermissionDeniedError);
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]![0], "e2e-readonly");
    assert.equal(rejected[0]![1].code, ErrorCode.PERMISSION_DENIED);
    assert.equal(c.rejections().get("e2e-readonly")?.code, ErrorCode.PERMISSION_DENIED);
    assert.deepEqual(c.engine.unsynced(), ["e2e-readonly"]); // the edit is kept, unsent
    const writer = mintToken(secret, "admin", { "*": "write" }, 3600);
    assert.deepEqual(await python("read", server.url, "e2e-readonly", writer), {});
  });
});

describe("HTTP fallback", () => {
  const server = new Server();
  let proxy: HttpServer | null = null;
  let proxyUrl = "";

  before(async () => {
    await server.start();
    [proxy, proxyUrl] = await noUpgradeProxy(server.url);
  });

  after(async () => {
    await clients.closeAll();
    proxy?.closeAllConnections();
    await new Promise((ok) => proxy?.close(ok));
    await server.dispose();
  });

  test("when the WebSocket is refused the client syncs over HTTP, both ways", async () => {
    const c = await client(proxyUrl, { clientId: "ts-http", pollIntervalMs: 200 });
    const doc = new FakeDoc(c.actorId);
    c.open("e2e-http", doc);
    await c.waitReceived("e2e-http", 15_000);
    assert.equal(c.activeTransport, "http");
    assert.equal(c.online, true);
    doc.edit(await pythonChanges(c.actorId, { via: "http" }));
    await c.waitSynced(15_000);
    assert.deepEqual(await python("read", server.url, "e2e-http"), { m: { via: "http" } });
    await python("push", server.url, "e2e-http", "reply=polled");
    await eventually(async () => {
      // The reply depends on our edit (Python saw it first): decode it along.
      const got = (await pythonDecode([doc.own!.changes, ...doc.received.filter((b) => b.length > 2)])) as { m?: Record<string, string> };
      return got.m?.["reply"] === "polled";
    }, 15_000, "the polled change");
  });
});
