/**
 * openDocument without a server: what it restores from the offline store, and its adapter.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { connect, type SyncClient } from "../src/client/client.js";
import { DocumentAdapter, closeDocument, openDocument, restoreDocument } from "../src/client/bind.js";
import { MemoryStore } from "../src/client/store.js";
import { Document } from "../src/core/document.js";
import { VersionVector } from "../src/core/version.js";
import { InvalidValueError } from "../src/errors.js";

const clients: SyncClient[] = [];

/** A client that never reaches a server (nothing listens on port 9). */
async function offline(store: MemoryStore, clientId = "ts-bind-unit"): Promise<SyncClient> {
  const c = await connect("http://127.0.0.1:9", { clientId, store, transport: "websocket", WebSocket });
  clients.push(c);
  return c;
}

describe("openDocument (no server)", () => {
  after(async () => {
    for (const c of clients.splice(0)) await c.close();
  });

  test("restores a snapshot and the change sets after it, and writes under the actor id", async () => {
    const store = new MemoryStore();
    const actor = await store.actorId("ts-bind-unit");
    const earlier = new Document(actor);
    earlier.getList("todos").append("from the snapshot");
    await store.saveSnapshot("restored", earlier.save());
    const v = earlier.version();
    earlier.getText("notes").insert(0, "appended");
    await store.append("restored", earlier.changes(v));
    const c = await offline(store);
    const doc = await openDocument(c, "restored");
    assert.deepEqual(doc.toJSON(), { todos: ["from the snapshot"], notes: "appended" });
    assert.equal(doc.clientId, c.actorId);
    doc.set("more", 1); // continues the actor's operation numbers
    assert.equal(doc.version().get(c.actorId), earlier.version().get(actor) + 1);
  });

  test("every local edit reaches the store; remote changes applied are not local edits", async () => {
    const store = new MemoryStore();
    const c = await offline(store);
    const doc = await openDocument(c, "edits");
    doc.set("a", 1);
    doc.getCounter("n").increment(2);
    await new Promise((r) => setTimeout(r, 50));
    const again = await restoreDocument(c, "edits");
    assert.deepEqual(again.toJSON(), { a: 1, n: 2 });
    const adapter = new DocumentAdapter(new Document("x"));
    let local = 0;
    adapter.onLocalChange(() => { local += 1; });
    adapter.apply(doc.changes());
    assert.equal(local, 0);
    adapter.doc.set("b", 2);
    assert.equal(local, 1);
    assert.deepEqual(VersionVector.decode(adapter.version()).get(c.actorId), doc.version().get(c.actorId));
    const since = adapter.changes(doc.version().encode());
    const fresh = new Document("y");
    fresh.apply(doc.changes());
    fresh.apply(since);
    assert.deepEqual(fresh.toJSON(), adapter.doc.toJSON());
  });

  test("one Document per id until closeDocument; a bad id is refused and not remembered", async () => {
    const c = await offline(new MemoryStore());
    const [a, b] = await Promise.all([openDocument(c, "same"), openDocument(c, "same")]);
    assert.equal(a, b);
    closeDocument(c, "same");
    closeDocument(c, "same"); // twice: nothing more
    assert.notEqual(await openDocument(c, "same"), a);
    await assert.rejects(openDocument(c, ""), InvalidValueError);
  });
});
