/**
 * The IndexedDB store at run time, on `fake-indexeddb` (an in-memory IndexedDB for Node):
 * snapshots and change sets, actor ids, deleting one document leaving a tombstone, clearing.
 */
import "fake-indexeddb/auto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { IndexedDBStore } from "../src/client/indexeddb.js";

test("IndexedDB store: documents, actor ids, one document deleted with a tombstone, clear", async () => {
  const store = await IndexedDBStore.open("synckit-test-lifecycle");
  try {
    const actor = await store.actorId("c");
    assert.match(actor, /^c~[0-9a-f]{12}$/);
    assert.equal(await store.actorId("c"), actor);
    await store.append("a", Uint8Array.of(1));
    await store.append("a", Uint8Array.of(2));
    await store.saveSnapshot("b", Uint8Array.of(9));
    await store.append("b", Uint8Array.of(3));
    assert.deepEqual(await store.load("a"), { snapshot: null, changes: [Uint8Array.of(1), Uint8Array.of(2)] });
    assert.deepEqual((await store.list()).sort(), ["a", "b"]);

    await store.deleteDoc("b");
    assert.equal(await store.load("b"), null);
    assert.equal(await store.isDeleted("b"), true);
    assert.equal(await store.isDeleted("a"), false);
    assert.deepEqual(await store.deletedIds(), ["b"]);
    assert.deepEqual(await store.list(), ["a"]);
    assert.equal(await store.actorId("c"), actor); // tombstones and actor ids share `meta`

    await store.clear();
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await store.deletedIds(), []);
    assert.equal(await store.load("a"), null);
    assert.notEqual(await store.actorId("c"), actor);
  } finally {
    await store.close();
  }
  // What survives closing: a tombstone written, then the store opened again.
  const first = await IndexedDBStore.open("synckit-test-reopen");
  await first.deleteDoc("gone");
  await first.close();
  const second = await IndexedDBStore.open("synckit-test-reopen");
  assert.equal(await second.isDeleted("gone"), true);
  await second.close();
});
