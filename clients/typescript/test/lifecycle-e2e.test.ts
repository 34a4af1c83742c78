/**
 * Document lifecycle against a real `synckit serve` (a port of the scenarios of
 * `tests/e2e/test_e2e_lifecycle.py`): list, close and reopen with unsent edits; delete by an
 * admin, seen by another TS client and by a Python client; no one brings a deleted id back;
 * a non-admin is refused and nothing changes; deleting over the HTTP fallback.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Server as HttpServer } from "node:http";
import { WebSocket } from "ws";
import { connect, type SyncClient } from "../src/client/client.js";
import { MemoryStore } from "../src/client/store.js";
import { DocumentDeletedError, PermissionDeniedError } from "../src/errors.js";
import { ErrorCode, type ErrorEvent } from "../src/protocol/events.js";
import { noUpgradeProxy } from "./support/proxy.js";
import {
  FakeDoc, Server, eventually, mintToken, python, pythonChanges, pythonWatch,
} from "./support/server.js";
import { TestClients } from "./support/clients.js";

const clients = new TestClients(300);

const client = (url: string, extra: Parameters<typeof connect>[1] = {}): Promise<SyncClient> =>
  clients.connect(url, extra);

const closeAll = (): Promise<void> => clients.closeAll();

/** The HTTP status of `GET /v1/docs/{docId}` (410 once deleted). */
async function docStatus(url: string, docId: string, token = ""): Promise<number> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const response = await fetch(`${url}/v1/docs/${docId}`, { headers });
  await response.arrayBuffer();
  return response.status;
}

/** A FakeDoc holding what the store kept of it (its own change sets, as Python made them). */
function restored(actorId: string, stored: Uint8Array, own: { version: Uint8Array }): FakeDoc {
  const doc = new FakeDoc(actorId);
  doc.own = { changes: stored, version: own.version };
  return doc;
}

describe("lifecycle against a real synckit serve", () => {
  const server = new Server();

  before(async () => {
    await server.start();
  });

  after(async () => {
    await closeAll();
    await server.dispose();
  });

  test("list, close and reopen: unsent edits stay in the store and are sent on reopen", async () => {
    await server.stop(); // offline first: the edit cannot be sent
    const store = new MemoryStore();
    const c = await client(server.url, { clientId: "ts-life", store, transport: "websocket" });
    assert.deepEqual(await c.documents(), []);
    const doc = new FakeDoc(c.actorId);
    c.open("life-notes", doc);
    c.open("life-empty", new FakeDoc(c.actorId));
    assert.deepEqual(await c.documents(), ["life-empty", "life-notes"]);
    const edit = await pythonChanges(c.actorId, { offline: "edit" });
    doc.edit(edit);
    await c.close("life-notes");
    assert.equal(c.engine.document("life-notes"), undefined);
    assert.deepEqual(await c.documents(), ["life-empty", "life-notes"]);
    await c.close("life-empty");
    assert.deepEqual(await c.documents(), ["life-notes"]); // never edited: nothing stored

    await server.start();
    await eventually(() => c.online, 15_000, "online");
    await c.waitSynced(10_000); // a closed document is not waited for...
    assert.deepEqual(await python("read", server.url, "life-notes"), {}); // ...nor sent
    const stored = await c.load("life-notes");
    assert.ok(stored !== null && stored.snapshot !== null);
    const again = restored(c.actorId, stored.snapshot, edit);
    c.open("life-notes", again);
    await c.waitReceived("life-notes", 15_000);
    await c.waitSynced(15_000);
    assert.deepEqual(await python("read", server.url, "life-notes"), { m: { offline: "edit" } });
    assert.deepEqual(await c.documents(), ["life-notes"]);
  });

  test("an admin deletes: the deleter, another TS client and a Python client drop their copies", async () => {
    const docId = "life-plan";
    // A client that synced once, then edits offline (the server never sees those edits).
    const lateStore = new MemoryStore();
    const late1 = await client(server.url, { clientId: "ts-late", store: lateStore });
    late1.open(docId, new FakeDoc(late1.actorId));
    await late1.waitReceived(docId, 15_000);
    await late1.close();
    const late2 = await client("http://127.0.0.1:9", { clientId: "ts-late", store: lateStore, transport: "websocket" });
    const lateDoc = new FakeDoc(late2.actorId);
    late2.open(docId, lateDoc);
    const lateEdit = await pythonChanges(late2.actorId, { late: "unsent edit" });
    lateDoc.edit(lateEdit);
    await late2.close();

    const admin = await client(server.url, { clientId: "ts-admin" });
    const watcher = await client(server.url, { clientId: "ts-watcher" });
    const told: [string, ErrorEvent][] = [];
    watcher.onDeleted((d, error) => told.push([d, error]));
    const doc = new FakeDoc(admin.actorId);
    admin.open(docId, doc);
    await admin.waitReceived(docId, 15_000);
    doc.edit(await pythonChanges(admin.actorId, { title: "Apollo" }));
    await admin.waitSynced(15_000);
    const seen = new FakeDoc(watcher.actorId);
    watcher.open(docId, seen);
    await watcher.waitReceived(docId, 15_000);
    const py = pythonWatch(server.url, docId);
    await py.ready;

    await admin.delete(docId, 15_000);
    // The deleter's copy is gone and the id is dead locally.
    assert.deepEqual(await admin.documents(), []);
    assert.equal(admin.engine.document(docId), undefined);
    assert.throws(() => admin.open(docId, new FakeDoc(admin.actorId)), DocumentDeletedError);
    await assert.rejects(admin.load(docId), DocumentDeletedError);
    assert.equal(admin.deleted().get(docId)?.code, ErrorCode.DOC_DELETED);
    await admin.delete(docId, 15_000); // again: nothing to do

    // A connected TS client is told and drops its copy.
    await eventually(() => told.length > 0, 15_000, "the TS watcher told");
    assert.equal(told.length, 1);
    assert.equal(told[0]![0], docId);
    assert.equal(told[0]![1].code, ErrorCode.DOC_DELETED);
    assert.equal(watcher.engine.document(docId), undefined);
    assert.deepEqual(await watcher.documents(), []);
    assert.ok(watcher.deleted().has(docId));
    await watcher.waitSynced(5_000);

    // So is a connected Python client.
    const pyResult = (await py.result) as { told: [string, string][]; documents: string[]; open: boolean; deleted: string[] };
    assert.deepEqual(pyResult.told, [[docId, "DOC_DELETED"]]);
    assert.deepEqual(pyResult.documents, []);
    assert.equal(pyResult.open, false);
    assert.deepEqual(pyResult.deleted, [docId]);

    // The client that edited offline comes back: its edit is dropped, its copy goes.
    const late3 = await client(server.url, { clientId: "ts-late", store: lateStore });
    const lateTold: string[] = [];
    late3.onDeleted((d) => lateTold.push(d));
    assert.deepEqual(await late3.documents(), [docId]);
    const stored = await late3.load(docId);
    assert.ok(stored !== null);
    late3.open(docId, restored(late3.actorId, stored.changes[0]!, lateEdit));
    await assert.rejects(late3.waitReceived(docId, 15_000), (e: unknown) =>
      e instanceof DocumentDeletedError && e.docId === docId);
    assert.deepEqual(lateTold, [docId]);
    assert.deepEqual(await late3.documents(), []);
    await late3.waitSynced(5_000); // nothing left to send
    assert.throws(() => late3.open(docId, new FakeDoc(late3.actorId)), DocumentDeletedError);
    assert.equal(await lateStore.isDeleted(docId), true);
    assert.equal(await lateStore.load(docId), null);
  });

  test("no one brings a deleted id back: a fresh TS client, a Python client, the HTTP view", async () => {
    const docId = "life-gone";
    const admin = await client(server.url, { clientId: "ts-admin2" });
    const doc = new FakeDoc(admin.actorId);
    admin.open(docId, doc);
    await admin.waitReceived(docId, 15_000);
    doc.edit(await pythonChanges(admin.actorId, { k: "v" }));
    await admin.waitSynced(15_000);
    await admin.delete(docId, 15_000);

    // A fresh TS client (no local tombstone) with an old copy of its own.
    const mallory = await client(server.url, { clientId: "ts-mallory" });
    const told: string[] = [];
    mallory.onDeleted((d) => told.push(d));
    const copy = new FakeDoc(mallory.actorId);
    copy.edit(await pythonChanges(mallory.actorId, { title: "resurrected" }));
    mallory.open(docId, copy);
    await assert.rejects(mallory.waitReceived(docId, 15_000), DocumentDeletedError);
    assert.deepEqual(told, [docId]);
    assert.deepEqual(await mallory.documents(), []);
    assert.equal(mallory.engine.ackedPushes, 0);

    assert.deepEqual(await python("reopen", server.url, docId), { error: "DocumentDeletedError" });
    assert.equal(await docStatus(server.url, docId), 410);
  });

  test("clear: all local data goes, a new actor id, and the server's copy comes back", async () => {
    const store = new MemoryStore();
    const c = await client(server.url, { clientId: "ts-clear", store });
    const doc = new FakeDoc(c.actorId);
    c.open("life-kept", doc);
    await c.waitReceived("life-kept", 15_000);
    doc.edit(await pythonChanges(c.actorId, { before: "clear" }));
    await c.waitSynced(15_000);
    const old = c.actorId;
    const connections = c.connections;
    await c.clear();
    assert.deepEqual(await c.documents(), []);
    assert.deepEqual(await store.list(), []);
    assert.notEqual(c.actorId, old);
    await eventually(() => c.connections > connections && c.online, 15_000, "reconnected under the new actor");
    const again = new FakeDoc(c.actorId);
    c.open("life-kept", again);
    await c.waitReceived("life-kept", 15_000);
    assert.ok(again.received.some((b) => b.length > 2), "the server's copy comes back");
    again.edit(await pythonChanges(c.actorId, { after: "clear" }));
    await c.waitSynced(15_000);
    assert.deepEqual(c.rejections(), new Map());
  });
});

describe("lifecycle with JWT authentication", () => {
  const server = new Server();
  let secret = "";

  before(async () => {
    secret = await server.startWithJwtSecret();
  });

  after(async () => {
    await closeAll();
    await server.dispose();
  });

  test("a non-admin (read/write access) is refused and nothing changes, over WebSocket and HTTP", async () => {
    const docId = "life-shared";
    const adminToken = mintToken(secret, "alice", { "*": "admin" }, 3600);
    const writerToken = mintToken(secret, "bob", { "*": "write" }, 3600);
    const alice = await client(server.url, { clientId: "ts-alice", token: adminToken });
    const bob = await client(server.url, { clientId: "ts-bob", token: writerToken });
    const docA = new FakeDoc(alice.actorId);
    alice.open(docId, docA);
    await alice.waitReceived(docId, 15_000);
    docA.edit(await pythonChanges(alice.actorId, { kept: "1" }));
    await alice.waitSynced(15_000);
    const docB = new FakeDoc(bob.actorId);
    bob.open(docId, docB);
    await bob.waitReceived(docId, 15_000);
    const rejected: string[] = [];
    bob.onRejected((d) => rejected.push(d));

    await assert.rejects(bob.delete(docId, 15_000), (e: unknown) =>
      e instanceof PermissionDeniedError && /admin/.test(e.message));
    // Nothing changed: bob's copy stays open and syncing.
    assert.deepEqual(await bob.documents(), [docId]);
    assert.equal(bob.engine.document(docId), docB);
    assert.deepEqual(bob.deleted(), new Map());
    assert.deepEqual(rejected, []);
    docB.edit(await pythonChanges(bob.actorId, { still: "syncing" }));
    await bob.waitSynced(15_000);

    // Over HTTP too (DELETE /v1/docs/{id}).
    const poller = await client(server.url, { clientId: "ts-bob-http", token: writerToken, transport: "http" });
    await assert.rejects(poller.delete(docId), PermissionDeniedError);
    // A read-only principal is refused as well.
    const reader = await client(server.url, { clientId: "ts-reader", token: mintToken(secret, "carol", { "*": "read" }, 3600) });
    await assert.rejects(reader.delete(docId, 15_000), PermissionDeniedError);

    assert.equal(await docStatus(server.url, docId, adminToken), 200);
    const got = (await python("read", server.url, docId, adminToken)) as { m?: Record<string, string> };
    assert.equal(got.m?.["kept"], "1");

    // The admin may.
    await alice.delete(docId, 15_000);
    assert.equal(await docStatus(server.url, docId, adminToken), 410);
    await eventually(() => bob.deleted().has(docId), 15_000, "bob told");
  });
});

describe("lifecycle over the HTTP fallback", () => {
  const server = new Server();
  let proxy: HttpServer | null = null;
  let proxyUrl = "";

  before(async () => {
    await server.start();
    [proxy, proxyUrl] = await noUpgradeProxy(server.url);
  });

  after(async () => {
    await closeAll();
    proxy?.closeAllConnections();
    await new Promise((ok) => proxy?.close(ok));
    await server.dispose();
  });

  test("a polling client deletes with DELETE /v1/docs/{id} and learns of deletions by others", async () => {
    const poller = await client(proxyUrl, { clientId: "ts-poller", pollIntervalMs: 100 });
    const watcher = await client(server.url, { clientId: "ts-ws-watcher" });
    const doc = new FakeDoc(poller.actorId);
    poller.open("life-polled", doc);
    await poller.waitReceived("life-polled", 15_000);
    assert.equal(poller.activeTransport, "http");
    doc.edit(await pythonChanges(poller.actorId, { via: "http" }));
    await poller.waitSynced(15_000);
    watcher.open("life-polled", new FakeDoc(watcher.actorId));
    await watcher.waitReceived("life-polled", 15_000);

    await poller.delete("life-polled");
    assert.deepEqual(await poller.documents(), []);
    assert.equal(poller.deleted().get("life-polled")?.code, ErrorCode.DOC_DELETED);
    assert.equal(await docStatus(server.url, "life-polled"), 410);
    await eventually(() => watcher.deleted().has("life-polled"), 15_000, "the WebSocket client told");

    // Deleted by someone else: the poller learns it on its next round.
    const other = new FakeDoc(poller.actorId);
    poller.open("life-polled-2", other);
    await poller.waitReceived("life-polled-2", 15_000);
    watcher.open("life-polled-2", new FakeDoc(watcher.actorId));
    await watcher.waitReceived("life-polled-2", 15_000);
    await watcher.delete("life-polled-2", 15_000);
    await eventually(() => poller.deleted().has("life-polled-2"), 15_000, "the poller told");
    assert.deepEqual(await poller.documents(), []);
  });
});
