import { test } from "node:test";
import assert from "node:assert/strict";
import { SyncEngine } from "../src/client/engine.js";
import { MemoryStore } from "../src/client/store.js";
import { backoffDelay, httpSyncUrl, syncUrl } from "../src/client/url.js";
import { decodeVersion, mergeVersions, seqOf } from "../src/client/version.js";
import type { StoreWrite } from "../src/client/replicas.js";
import { ErrorCode, PRESENCE, errorEvent, welcome, type ErrorEvent } from "../src/protocol/index.js";
import { encodeError, encodeHttpSyncResponse } from "../src/gen/synckit/v1/protocol.js";
import { InvalidValueError, LocalProtocolError } from "../src/errors.js";
import { CounterDoc, ME, Peer, version } from "./support/engine.js";

function connected(engine: SyncEngine): Peer {
  engine.connectionMade(0);
  const peer = new Peer(engine);
  const [hello] = peer.read();
  assert.ok(hello?.type === "hello" && hello.clientId === ME && hello.capabilities.includes(PRESENCE));
  peer.send(welcome({ maxFrameBytes: 1 << 20, capabilities: [PRESENCE], presenceTimeoutMs: 30_000 }));
  return peer;
}

test("URLs of the WebSocket and HTTP endpoints", () => {
  assert.equal(syncUrl("http://h:8080"), "ws://h:8080/v1/sync");
  assert.equal(syncUrl("https://h/base/"), "wss://h/base/v1/sync");
  assert.equal(syncUrl("ws://h:1/v1/sync"), "ws://h:1/v1/sync");
  assert.equal(httpSyncUrl("ws://h:1/v1/sync", "a:b"), "http://h:1/v1/docs/a%3Ab/sync");
  assert.throws(() => syncUrl("ftp://h"), InvalidValueError);
  assert.throws(() => httpSyncUrl("http://h", "bad id"), InvalidValueError);
});

test("back-off: full jitter under an exponential cap", () => {
  assert.equal(backoffDelay(0, 50, 5000, () => 0.999999) < 50, true);
  assert.equal(Math.round(backoffDelay(3, 50, 5000, () => 1)), 400);
  assert.equal(backoffDelay(20, 50, 5000, () => 1), 5000);
  assert.equal(backoffDelay(5, 50, 5000, () => 0), 0);
});

test("versions: decode, encode (sorted, zeros dropped), merge", () => {
  const v = decodeVersion(version({ b: 2, a: 1, z: 0 }));
  assert.deepEqual([...v], [["a", 1], ["b", 2]]);
  assert.deepEqual(decodeVersion(new Uint8Array()), new Map());
  assert.equal(seqOf(mergeVersions(v, new Map([["a", 5]])), "a"), 5);
});

test("the in-memory store keeps snapshots and appended change sets, and one actor id", async () => {
  const store = new MemoryStore();
  const actor = await store.actorId("laptop");
  assert.match(actor, /^laptop~[0-9a-f]{12}$/);
  assert.equal(await store.actorId("laptop"), actor);
  assert.equal(await store.load("d"), null);
  await store.append("d", Uint8Array.of(1));
  await store.append("d", Uint8Array.of(2));
  assert.deepEqual(await store.load("d"), { snapshot: null, changes: [Uint8Array.of(1), Uint8Array.of(2)] });
  await store.saveSnapshot("d", Uint8Array.of(9));
  await store.append("d", Uint8Array.of(3));
  assert.deepEqual(await store.load("d"), { snapshot: Uint8Array.of(9), changes: [Uint8Array.of(3)] });
  assert.deepEqual(await store.list(), ["d"]);
});

test("engine: subscribe on Welcome, push what the server lacks, one push in flight, ack", () => {
  const engine = new SyncEngine(ME);
  const writes: StoreWrite[] = [];
  engine.onStore = (w) => writes.push(w);
  const doc = new CounterDoc();
  engine.open("d", doc);
  doc.edit(); // offline edit: stored before anything is sent
  assert.deepEqual(writes, [{ kind: "append", docId: "d", changes: Uint8Array.of(1, 1) }]);
  assert.deepEqual(engine.unsynced(), ["d"]);
  const peer = connected(engine);
  const [sub] = peer.read();
  assert.ok(sub?.type === "subscribe" && sub.docId === "d");
  assert.deepEqual(decodeVersion(sub.version), new Map([[ME, 1]]));
  peer.send({ type: "subscribed", docId: "d", changes: new Uint8Array(), serverVersion: version({}) });
  const [push] = peer.read();
  assert.ok(push?.type === "push" && push.batchId === 1);
  assert.deepEqual(push.changes, Uint8Array.of(1, 1));
  doc.edit();
  engine.flush();
  assert.deepEqual(peer.read(), []); // one push per document in flight
  peer.send({ type: "ack", docId: "d", batchId: 1, serverVersion: version({ [ME]: 1 }) });
  const [next] = peer.read();
  assert.ok(next?.type === "push" && next.batchId === 2);
  assert.deepEqual(next.changes, Uint8Array.of(2, 2)); // only what the server lacks
  peer.send({ type: "ack", docId: "d", batchId: 2, serverVersion: version({ [ME]: 2 }) });
  assert.deepEqual(engine.unsynced(), []);
  assert.equal(engine.ackedPushes, 2);
});

test("engine: broadcasts are applied and stored as they came", () => {
  const engine = new SyncEngine(ME);
  const writes: StoreWrite[] = [];
  engine.onStore = (w) => writes.push(w);
  const doc = new CounterDoc();
  engine.open("d", doc);
  const peer = connected(engine);
  peer.read();
  peer.send({ type: "subscribed", docId: "d", changes: new Uint8Array(), serverVersion: version({}) });
  peer.send({ type: "broadcast", docId: "d", changes: Uint8Array.of(1, 3), serverVersion: version({ other: 3 }) });
  assert.deepEqual(doc.applied.at(-1), Uint8Array.of(1, 3));
  assert.deepEqual(writes.at(-1), { kind: "append", docId: "d", changes: Uint8Array.of(1, 3) });
});

test("engine: a refused push is surfaced, kept, and sent again on the next connection", () => {
  const engine = new SyncEngine(ME);
  const rejected: [string, ErrorEvent][] = [];
  engine.onRejected = (d, e) => rejected.push([d, e]);
  const doc = new CounterDoc();
  engine.open("d", doc);
  let peer = connected(engine);
  peer.read();
  peer.send({ type: "subscribed", docId: "d", changes: new Uint8Array(), serverVersion: version({}) });
  doc.edit();
  engine.flush();
  const [push] = peer.read();
  assert.ok(push?.type === "push");
  peer.send(errorEvent(ErrorCode.PERMISSION_DENIED, "read only", { docId: "d", batchId: push.batchId }));
  assert.equal(rejected.length, 1);
  assert.equal(engine.syncError()?.code, ErrorCode.PERMISSION_DENIED);
  assert.equal(engine.rejections().get("d")?.code, ErrorCode.PERMISSION_DENIED);
  doc.edit();
  engine.flush();
  assert.deepEqual(peer.read(), []); // refused on this connection: not pushed again on it
  assert.deepEqual(engine.unsynced(), ["d"]); // and not counted as synced
  engine.connectionLost();
  peer = connected(engine);
  assert.equal(engine.syncError(), null);
  peer.read();
  peer.send({ type: "subscribed", docId: "d", changes: new Uint8Array(), serverVersion: version({}) });
  const [again] = peer.read();
  assert.ok(again?.type === "push");
  assert.deepEqual(again.changes, Uint8Array.of(1, 2));
});

test("engine: a fatal refusal of the token is terminal unless a fresh one can be had", () => {
  for (const renewable of [false, true]) {
    const engine = new SyncEngine(ME, { tokenRenewable: renewable });
    const peer = new Peer(engine);
    engine.connectionMade(0);
    peer.read();
    peer.send(errorEvent(ErrorCode.TOKEN_EXPIRED, "expired", { fatal: true, retryable: true }));
    assert.equal(engine.closing, true);
    assert.equal(engine.terminalError === null, renewable);
  }
});

test("engine: Ping after silence, connection given up when an answer is overdue", () => {
  const engine = new SyncEngine(ME, { pingIntervalMs: 100, responseTimeoutMs: 1000 });
  engine.open("d", new CounterDoc());
  const peer = connected(engine);
  peer.read();
  assert.equal(engine.tick(50), true);
  assert.equal(engine.tick(200), true);
  const sent = peer.read();
  assert.ok(sent.some((e) => e.type === "ping"));
  assert.equal(engine.tick(1040), true);
  assert.equal(engine.tick(1100), false); // the Subscribe, first seen at 50, unanswered for > 1 s
});

test("engine: the token is renewed on the open session before it expires", () => {
  let now = 1_000_000;
  const engine = new SyncEngine(ME, { tokenRenewable: true, wallClock: () => now });
  engine.connectionMade(0);
  const peer = new Peer(engine);
  peer.read();
  peer.send(welcome({ tokenExpiresMs: now + 100_000 }));
  assert.equal(engine.reauthDue(now), false);
  now += 80_001; // a fifth of the lifetime left
  assert.equal(engine.reauthDue(now), true);
  engine.reauthenticate("fresh");
  const [hello] = peer.read();
  assert.ok(hello?.type === "hello" && hello.token === "fresh");
  peer.send(welcome({ tokenExpiresMs: now + 100_000 }));
  assert.equal(engine.reauthDue(now), false);
  assert.equal(engine.online, true);
});

test("engine: presence is sent once subscribed and others' entries observed", () => {
  const engine = new SyncEngine(ME);
  engine.open("d", new CounterDoc());
  const record = engine.docPresence("d");
  const seen: string[] = [];
  record.observers.push((c) => seen.push(...c.updated.map((p) => p.key), ...c.removed));
  engine.setPresence("d", new TextEncoder().encode('{"n":1}'), { n: 1 });
  const peer = connected(engine);
  peer.read();
  peer.send({ type: "subscribed", docId: "d", changes: new Uint8Array(), serverVersion: version({}) });
  const sent = peer.read();
  assert.ok(sent.some((e) => e.type === "presenceSet"));
  peer.send({ type: "presence", docId: "d", entries: [
    { key: "s:2", principal: "p", clientId: "c", state: new TextEncoder().encode('{"a":1}'), removed: false }] });
  assert.deepEqual(record.others.get("s:2")?.state, { a: 1 });
  engine.connectionLost();
  assert.equal(record.others.size, 0);
  assert.deepEqual(seen, ["s:2", "s:2"]);
  assert.throws(() => engine.docPresence("nope"), LocalProtocolError);
});

test("engine over HTTP: learn the server's version, then push exactly what it lacks", () => {
  const engine = new SyncEngine(ME);
  const doc = new CounterDoc();
  engine.open("d", doc);
  doc.edit();
  const ok = (serverVersion: Uint8Array) => encodeHttpSyncResponse({ changes: new Uint8Array(), serverVersion });
  engine.httpRequest("d");
  assert.throws(() => engine.httpRequest("d"), /already out/);
  assert.equal(engine.receiveHttp("d", true, ok(version({})), "application/x-protobuf"), "again");
  engine.httpRequest("d");
  assert.equal(engine.receiveHttp("d", true, ok(version({ [ME]: 1 })), "application/x-protobuf"), "done");
  assert.deepEqual(engine.unsynced(), []);
  doc.edit();
  engine.httpRequest("d");
  const refusal = encodeError({ code: ErrorCode.PERMISSION_DENIED, message: "read only", fatal: true });
  assert.equal(engine.receiveHttp("d", false, refusal, "application/x-protobuf"), "refused");
  assert.equal(engine.rejections().get("d")?.code, ErrorCode.PERMISSION_DENIED);
  engine.httpRequest("d");
  assert.equal(engine.receiveHttp("d", false, new TextEncoder().encode("<h1>bad gateway</h1>"), "text/html"), "unreachable");
  assert.equal(engine.docError("d"), null); // a network failure clears the refusal: tried again
});

test("client shell offline: edits go to the store at once, load() gives them back, close() ends", async () => {
  const { connect } = await import("../src/client/client.js");
  const { WebSocket } = await import("ws");
  const store = new MemoryStore();
  // Port 9 (discard) on loopback: connections are refused, so the client stays offline.
  const client = await connect("http://127.0.0.1:9", { store, clientId: "me", WebSocket, transport: "websocket", backoffMaxMs: 100 });
  try {
    const statuses: boolean[] = [];
    client.onStatus((s) => statuses.push(s));
    const doc = new CounterDoc(client.actorId);
    client.open("offline-doc", doc);
    doc.edit();
    doc.edit();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(client.online, false);
    assert.deepEqual(await client.load("offline-doc"), {
      snapshot: null, changes: [Uint8Array.of(1, 1), Uint8Array.of(2, 2)] });
    assert.match(client.actorId, /^me~/);
    assert.deepEqual(client.engine.unsynced(), ["offline-doc"]);
    await assert.rejects(client.waitSynced(100), /not synced after 100 ms/);
    assert.deepEqual(statuses, []);
  } finally {
    await client.close();
  }
});
