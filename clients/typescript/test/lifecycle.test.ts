/**
 * Document lifecycle in the sync engine and the offline stores (no server): listing, closing,
 * deleting (DeleteDoc / DocDeleted, DOC_DELETED from elsewhere, HTTP), clearing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { connect } from "../src/client/client.js";
import { SyncEngine } from "../src/client/engine.js";
import { MemoryStore } from "../src/client/store.js";
import { httpDocUrl } from "../src/client/url.js";
import type { StoreWrite } from "../src/client/replicas.js";
import {
  DELETE, ErrorCode, PRESENCE, deleteDoc, docDeleted, errorEvent, type ErrorEvent,
} from "../src/protocol/index.js";
import { encodeError, encodeHttpSyncResponse } from "../src/gen/synckit/v1/protocol.js";
import {
  DocumentDeletedError, InvalidValueError, PermissionDeniedError, ProtocolError, SyncTimeoutError,
} from "../src/errors.js";
import { CounterDoc, ME, connected, version } from "./support/engine.js";

const empty = new Uint8Array();
const CAPS = [PRESENCE, DELETE];

function engineWithWrites(): [SyncEngine, StoreWrite[], [string, ErrorEvent][]] {
  const engine = new SyncEngine(ME);
  const writes: StoreWrite[] = [];
  const deleted: [string, ErrorEvent][] = [];
  engine.onStore = (w) => writes.push(w);
  engine.onDeleted = (docId, error) => deleted.push([docId, error]);
  return [engine, writes, deleted];
}

test("engine: DeleteDoc once welcomed; DocDeleted drops the document, its edits and its id", () => {
  const [engine, writes, deleted] = engineWithWrites();
  const doc = new CounterDoc();
  engine.open("d", doc);
  doc.edit(); // unsent
  const deletion = engine.askDelete("d"); // offline: waits for a connection
  assert.equal(deletion.requestId, 0);
  const peer = connected(engine, CAPS);
  const sent = peer.read();
  assert.deepEqual(sent.map((e) => e.type), ["subscribe", "deleteDoc"]);
  assert.deepEqual(sent[1], deleteDoc("d", 1));
  assert.equal(deletion.requestId, 1);
  peer.send({ type: "subscribed", docId: "d", changes: empty, serverVersion: version({}) });
  peer.read(); // the push
  peer.send(docDeleted("d", 1));
  assert.equal(deletion.done, true);
  assert.equal(engine.document("d"), undefined);
  assert.deepEqual(engine.unsynced(), []); // its unsent edit is no longer waited for
  assert.deepEqual(writes.at(-1), { kind: "delete", docId: "d" });
  assert.equal(deleted.length, 1);
  assert.equal(deleted[0]![0], "d");
  assert.equal(deleted[0]![1].code, ErrorCode.DOC_DELETED);
  assert.equal(engine.deleted.get("d")?.code, ErrorCode.DOC_DELETED);
  assert.throws(() => engine.open("d", new CounterDoc()), (e: unknown) =>
    e instanceof DocumentDeletedError && e.docId === "d");
  assert.deepEqual(engine.storedDocIds(["d", "e"]), ["e"]);
  engine.forgetDeletion("d");
});

test("engine: a refusal answering the request changes nothing and is no document rejection", () => {
  const [engine, writes, deleted] = engineWithWrites();
  const rejected: string[] = [];
  engine.onRejected = (docId) => rejected.push(docId);
  const doc = new CounterDoc();
  engine.open("d", doc);
  const peer = connected(engine, CAPS);
  peer.read();
  peer.send({ type: "subscribed", docId: "d", changes: empty, serverVersion: version({}) });
  const deletion = engine.askDelete("d");
  assert.deepEqual(peer.read(), [deleteDoc("d", 1)]);
  peer.send(errorEvent(ErrorCode.PERMISSION_DENIED, "admin access needed", { docId: "d", requestId: 1 }));
  assert.equal(deletion.error?.code, ErrorCode.PERMISSION_DENIED);
  assert.equal(deletion.done, false);
  assert.deepEqual(rejected, []);
  assert.deepEqual(deleted, []);
  assert.deepEqual(writes, []);
  // Still subscribed: the next edit is pushed.
  doc.edit();
  engine.flush();
  assert.deepEqual(peer.read().map((e) => e.type), ["push"]);
  // Asked again after a refusal: a new request.
  engine.forgetDeletion("d", true); // sent: kept until answered... but it was answered
  const again = engine.askDelete("d");
  assert.notEqual(again, deletion);
  assert.deepEqual(peer.read(), [deleteDoc("d", 2)]);
});

test("engine: a server without the delete capability is not asked", () => {
  const [engine] = engineWithWrites();
  const peer = connected(engine, [PRESENCE]);
  const deletion = engine.askDelete("d");
  assert.deepEqual(peer.read(), []);
  assert.equal(deletion.error?.code, ErrorCode.UNKNOWN_MESSAGE);
  assert.match(deletion.error!.message, /no 'delete' capability/);
});

test("engine: deleted elsewhere (DOC_DELETED) drops the copy with its unsent edits, once", () => {
  const [engine, writes, deleted] = engineWithWrites();
  const doc = new CounterDoc();
  engine.open("d", doc);
  engine.open("keep", new CounterDoc());
  doc.edit();
  doc.edit();
  const peer = connected(engine, CAPS);
  peer.read();
  peer.send({ type: "subscribed", docId: "d", changes: empty, serverVersion: version({}) });
  const [push] = peer.read();
  assert.ok(push?.type === "push");
  // The push is refused and the subscription ended: told twice, dropped once.
  peer.send(errorEvent(ErrorCode.DOC_DELETED, "deleted", { docId: "d", batchId: push.batchId }));
  peer.send(errorEvent(ErrorCode.DOC_DELETED, "deleted", { docId: "d" }));
  assert.equal(deleted.length, 1);
  assert.equal(engine.document("d"), undefined);
  assert.deepEqual(engine.docIds, ["keep"]);
  assert.deepEqual(writes.filter((w) => w.kind === "delete"), [{ kind: "delete", docId: "d" }]);
  assert.deepEqual(engine.rejections(), new Map());
  doc.edit(); // detached: neither stored nor sent
  engine.flush();
  assert.ok(peer.read().every((e) => e.type !== "push"));
  assert.equal(writes.filter((w) => w.kind === "append").length, 2);
});

test("engine: an unanswered deletion is asked again on the next connection; an unsent one can be withdrawn", () => {
  const [engine] = engineWithWrites();
  let peer = connected(engine, CAPS);
  const deletion = engine.askDelete("d");
  assert.deepEqual(peer.read(), [deleteDoc("d", 1)]);
  engine.connectionLost();
  engine.forgetDeletion("d", true); // sent on the old connection: kept
  peer = connected(engine, CAPS);
  assert.deepEqual(peer.read(), [deleteDoc("d", 1)]); // a new session numbers from 1 again
  peer.send(docDeleted("d", 1));
  assert.equal(deletion.done, true);
  engine.connectionLost();
  engine.askDelete("e");
  engine.forgetDeletion("e", true); // not sent: withdrawn, never sent later
  peer = connected(engine, CAPS);
  assert.deepEqual(peer.read(), []);
});

test("engine: closing a document unsubscribes and snapshots its appended edits; it stays listed", () => {
  const [engine, writes] = engineWithWrites();
  const doc = new CounterDoc();
  engine.open("d", doc);
  const peer = connected(engine, CAPS);
  peer.read();
  peer.send({ type: "subscribed", docId: "d", changes: empty, serverVersion: version({}) });
  assert.deepEqual(peer.read(), []); // nothing to push
  doc.edit(); // not flushed: unsent
  engine.close("d");
  assert.deepEqual(peer.read(), [{ type: "unsubscribe", docId: "d" }]);
  assert.deepEqual(writes.at(-1), { kind: "snapshot", docId: "d", snapshot: Uint8Array.of(0xff, 1) });
  assert.deepEqual(engine.storedDocIds(["d"]), ["d"]);
  assert.deepEqual(engine.unsynced(), []); // no longer waited for
  engine.close("d"); // not open: nothing
  engine.close("never");
  assert.equal(writes.length, 2);
});

test("engine: clearAll closes everything and a new identity starts a new session", () => {
  const [engine] = engineWithWrites();
  engine.open("d", new CounterDoc());
  const peer = connected(engine, CAPS);
  peer.read();
  peer.send(errorEvent(ErrorCode.DOC_DELETED, "gone", { docId: "d" }));
  assert.ok(engine.tombstones.has("d"));
  engine.open("e", new CounterDoc());
  engine.clearAll();
  assert.deepEqual(engine.docIds, []);
  assert.deepEqual(engine.deleted, new Map());
  assert.equal(engine.tombstones.size, 0);
  engine.changeIdentity("me~2");
  assert.equal(engine.actorId, "me~2");
  assert.equal(engine.closing, true); // the shell drops the transport
  engine.connectionLost();
  engine.connectionMade(0);
  const [hello] = engine.dataToSend();
  assert.ok(hello !== undefined);
  engine.open("d", new CounterDoc("me~2")); // usable again after a clear
});

test("engine over HTTP: DOC_DELETED drops the document; DELETE answers", () => {
  const [engine, writes, deleted] = engineWithWrites();
  const doc = new CounterDoc();
  engine.open("d", doc);
  doc.edit();
  engine.httpRequest("d");
  const gone = encodeError({ code: ErrorCode.DOC_DELETED, message: "deleted", fatal: true, docId: "d" });
  assert.equal(engine.receiveHttp("d", false, gone, "application/x-protobuf"), "refused");
  assert.equal(engine.document("d"), undefined);
  assert.equal(deleted[0]?.[0], "d");
  assert.deepEqual(writes.at(-1), { kind: "delete", docId: "d" });

  const refusal = encodeError({ code: ErrorCode.PERMISSION_DENIED, message: "admin", fatal: true, docId: "x" });
  assert.throws(() => engine.receiveHttpDelete("x", false, refusal, 403, "application/x-protobuf"), PermissionDeniedError);
  assert.throws(() => engine.receiveHttpDelete("x", false, new TextEncoder().encode("nope"), 404, "text/plain"),
    (e: unknown) => e instanceof ProtocolError && /HTTP 404/.test(e.message));
  assert.equal(engine.tombstones.has("x"), false);
  const ok = encodeHttpSyncResponse({});
  engine.receiveHttpDelete("x", true, ok, 200, "application/x-protobuf");
  assert.ok(engine.tombstones.has("x"));
  assert.equal(deleted.length, 2);
  assert.ok(engine.httpDeleteRequest().length > 0);
  assert.equal(httpDocUrl("ws://h:1/base/v1/sync?t=1", "a:b"), "http://h:1/base/v1/docs/a%3Ab?t=1");
  assert.throws(() => httpDocUrl("http://h", "bad id"), InvalidValueError);
});

test("the in-memory store deletes one document leaving a tombstone, and clears everything", async () => {
  const store = new MemoryStore();
  const actor = await store.actorId("c");
  await store.append("a", Uint8Array.of(1));
  await store.saveSnapshot("b", Uint8Array.of(2));
  await store.deleteDoc("a");
  assert.equal(await store.load("a"), null);
  assert.equal(await store.isDeleted("a"), true);
  assert.equal(await store.isDeleted("b"), false);
  assert.deepEqual(await store.deletedIds(), ["a"]);
  assert.deepEqual(await store.list(), ["b"]);
  await store.clear();
  assert.deepEqual(await store.list(), []);
  assert.deepEqual(await store.deletedIds(), []);
  assert.notEqual(await store.actorId("c"), actor);
});

test("client shell offline: documents, close keeps unsent edits, delete times out, clear, tombstones", async () => {
  const store = new MemoryStore();
  await store.append("old", Uint8Array.of(7, 7));
  await store.deleteDoc("dead");
  const client = await connect("http://127.0.0.1:9", { store, clientId: "me", WebSocket, transport: "websocket", backoffMaxMs: 100 });
  try {
    assert.deepEqual(await client.documents(), ["old"]);
    const doc = new CounterDoc(client.actorId);
    client.open("notes", doc);
    client.open("empty", new CounterDoc(client.actorId));
    assert.deepEqual(await client.documents(), ["empty", "notes", "old"]);
    doc.edit();
    await client.close("notes");
    assert.equal(client.engine.document("notes"), undefined);
    assert.deepEqual(await client.documents(), ["empty", "notes", "old"]);
    assert.deepEqual(await client.load("notes"), { snapshot: Uint8Array.of(0xff, 1), changes: [] });
    await client.close("empty");
    assert.deepEqual(await client.documents(), ["notes", "old"]); // never edited: nothing stored

    // A tombstone from the store: refused at once.
    assert.throws(() => client.open("dead", new CounterDoc(client.actorId)), DocumentDeletedError);
    await assert.rejects(client.load("dead"), DocumentDeletedError);
    await client.delete("dead"); // deleted already: nothing to do

    // Offline a deletion waits, times out, and is withdrawn: nothing changed.
    client.open("notes", doc);
    await assert.rejects(client.delete("notes", 200), (e: unknown) =>
      e instanceof SyncTimeoutError && /offline/.test(e.message));
    assert.ok(client.engine.document("notes") !== undefined);
    await assert.rejects(client.delete("bad id"), InvalidValueError);

    const before = client.actorId;
    await client.clear();
    assert.deepEqual(await client.documents(), []);
    assert.equal(client.engine.document("notes"), undefined);
    assert.notEqual(client.actorId, before);
    assert.match(client.actorId, /^me~/);
    client.open("dead", new CounterDoc(client.actorId)); // the local tombstone went too
    assert.deepEqual(client.deleted(), new Map());
  } finally {
    await client.close();
  }
});
