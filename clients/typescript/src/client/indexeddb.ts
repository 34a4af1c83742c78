/**
 * An {@link OfflineStore} in the browser's IndexedDB (the `indexedDB` global, or a factory
 * given to it). One database per store name, three object stores: `meta` (actor ids under
 * `actor:<client id>`, local tombstones under `deleted:<doc id>`),
 * `snapshots` (document id → snapshot) and `changes` (change sets, keyed by an increasing
 * number, indexed by document id, so they come back in the order appended).
 *
 * @module
 */
import { StorageError } from "../errors.js";
import { randomSuffix, type OfflineStore, type StoredDocument } from "./store.js";

const VERSION = 1;
/** The `meta` key prefix of a local tombstone. */
const DELETED = "deleted:";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new StorageError(`IndexedDB: ${req.error?.message ?? "request failed"}`));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(new StorageError(`IndexedDB: ${tx.error?.message ?? "transaction failed"}`));
    tx.onabort = () => reject(new StorageError(`IndexedDB: ${tx.error?.message ?? "transaction aborted"}`));
  });
}

/** An {@link OfflineStore} kept in IndexedDB; build it with {@link IndexedDBStore.open}. */
export class IndexedDBStore implements OfflineStore {
  private constructor(private readonly db: IDBDatabase) {}

  /**
   * Open (or create) the database `name`.
   *
   * @param factory - the IndexedDB factory (default: the `indexedDB` global).
   * @throws StorageError: IndexedDB is missing or refused to open the database.
   */
  static async open(name = "synckit", factory?: IDBFactory): Promise<IndexedDBStore> {
    const idb = factory ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (idb === undefined) throw new StorageError("IndexedDB is not available here");
    const req = idb.open(name, VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta");
      if (!db.objectStoreNames.contains("snapshots")) db.createObjectStore("snapshots");
      if (!db.objectStoreNames.contains("changes")) {
        const changes = db.createObjectStore("changes", { autoIncrement: true });
        changes.createIndex("doc", "doc", { unique: false });
      }
    };
    return new IndexedDBStore(await request(req));
  }

  async actorId(clientId: string): Promise<string> {
    const tx = this.db.transaction("meta", "readwrite");
    const meta = tx.objectStore("meta");
    const key = `actor:${clientId}`;
    const found = (await request(meta.get(key))) as string | undefined;
    const actor = found ?? `${clientId}~${randomSuffix()}`;
    if (found === undefined) meta.put(actor, key);
    await done(tx);
    return actor;
  }

  async load(docId: string): Promise<StoredDocument | null> {
    const tx = this.db.transaction(["snapshots", "changes"], "readonly");
    const snapshot = (await request(tx.objectStore("snapshots").get(docId))) as Uint8Array | undefined;
    const rows = (await request(
      tx.objectStore("changes").index("doc").getAll(IDBKeyRange.only(docId)),
    )) as { doc: string; data: Uint8Array }[];
    await done(tx);
    if (snapshot === undefined && rows.length === 0) return null;
    // getAll on the index returns rows in primary-key order within one doc id: append order.
    return { snapshot: snapshot ?? null, changes: rows.map((r) => r.data) };
  }

  async append(docId: string, changes: Uint8Array): Promise<void> {
    const tx = this.db.transaction("changes", "readwrite");
    tx.objectStore("changes").add({ doc: docId, data: changes.slice() });
    await done(tx);
  }

  async saveSnapshot(docId: string, snapshot: Uint8Array): Promise<void> {
    const tx = this.db.transaction(["snapshots", "changes"], "readwrite");
    tx.objectStore("snapshots").put(snapshot.slice(), docId);
    const changes = tx.objectStore("changes");
    const keys = await request(changes.index("doc").getAllKeys(IDBKeyRange.only(docId)));
    for (const key of keys) changes.delete(key);
    await done(tx);
  }

  async list(): Promise<string[]> {
    const tx = this.db.transaction(["snapshots", "changes"], "readonly");
    const snapshots = await request(tx.objectStore("snapshots").getAllKeys());
    const rows = (await request(tx.objectStore("changes").getAll())) as { doc: string }[];
    await done(tx);
    const ids = new Set<string>(snapshots.map(String));
    for (const row of rows) ids.add(row.doc);
    return [...ids];
  }

  async deleteDoc(docId: string): Promise<void> {
    const tx = this.db.transaction(["snapshots", "changes", "meta"], "readwrite");
    tx.objectStore("snapshots").delete(docId);
    const changes = tx.objectStore("changes");
    const keys = await request(changes.index("doc").getAllKeys(IDBKeyRange.only(docId)));
    for (const key of keys) changes.delete(key);
    tx.objectStore("meta").put("", `${DELETED}${docId}`);
    await done(tx);
  }

  async isDeleted(docId: string): Promise<boolean> {
    const tx = this.db.transaction("meta", "readonly");
    const found = await request(tx.objectStore("meta").getKey(`${DELETED}${docId}`));
    await done(tx);
    return found !== undefined;
  }

  async deletedIds(): Promise<string[]> {
    const tx = this.db.transaction("meta", "readonly");
    // Every key starting with the prefix: "deleted:" up to "deleted;" (the next character).
    const range = IDBKeyRange.bound(DELETED, `${DELETED.slice(0, -1)};`, false, true);
    const keys = await request(tx.objectStore("meta").getAllKeys(range));
    await done(tx);
    return keys.map((k) => String(k).slice(DELETED.length));
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction(["snapshots", "changes", "meta"], "readwrite");
    tx.objectStore("snapshots").clear();
    tx.objectStore("changes").clear();
    tx.objectStore("meta").clear();
    await done(tx);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
