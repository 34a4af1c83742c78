/**
 * The offline queue behind a small interface: per document, a snapshot and the change sets
 * after it; and the replica's actor id. Every local edit is appended before it is sent, so
 * edits made offline survive a reload; what still has to be sent is recomputed from version
 * vectors on every connection (nothing is queued as messages).
 *
 * A store also remembers the documents the server said were deleted (local tombstones), so
 * that opening one fails at once instead of making a fresh copy whose edits no server takes
 * (as `synckit.client._store` does). {@link OfflineStore.clear} empties it all, actor ids
 * included: the next {@link OfflineStore.actorId} makes a new actor.
 *
 * @module
 */

/** What a store holds of one document. */
export interface StoredDocument {
  /** The last snapshot saved (`SyncedDocument.save()`), or `null`. */
  readonly snapshot: Uint8Array | null;
  /**
   * Change sets appended after it, oldest first: local edits (some perhaps unsent) and
   * changes received from the server. Load the snapshot, then apply these in order.
   */
  readonly changes: readonly Uint8Array[];
}

/**
 * Where the client keeps documents between runs. Calls for one document are made one at a
 * time, in order; implementations need no locking of their own.
 */
export interface OfflineStore {
  /**
   * The actor id this store writes under for `clientId`: `clientId` plus a random suffix,
   * made on first use and kept (a fresh store never reuses operation numbers a server holds).
   */
  actorId(clientId: string): Promise<string>;
  /** The document's snapshot and change sets, or `null` when the store has none. */
  load(docId: string): Promise<StoredDocument | null>;
  /** Append one change set after the document's snapshot. */
  append(docId: string, changes: Uint8Array): Promise<void>;
  /** Replace the document's snapshot and drop its appended change sets (it holds them). */
  saveSnapshot(docId: string, snapshot: Uint8Array): Promise<void>;
  /** The ids of the documents the store holds. */
  list(): Promise<string[]>;
  /**
   * Remove the document's snapshot and change sets (its unsent edits with them) and remember
   * it as deleted, in one transaction.
   *
   * @throws StorageError: nothing changed.
   */
  deleteDoc(docId: string): Promise<void>;
  /** Whether {@link deleteDoc} removed `docId` (since the last {@link clear}). */
  isDeleted(docId: string): Promise<boolean>;
  /** The ids {@link deleteDoc} removed (since the last {@link clear}). */
  deletedIds(): Promise<string[]>;
  /**
   * Remove everything: every document, its unsent edits, the local tombstones and the actor
   * ids (the next {@link actorId} makes a new one), in one transaction.
   *
   * @throws StorageError: nothing changed.
   */
  clear(): Promise<void>;
  /** Release the store's resources. */
  close(): Promise<void>;
}

/** A random hex suffix for actor ids. */
export function randomSuffix(bytes = 6): string {
  const data = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(data);
  return [...data].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** An {@link OfflineStore} in memory: nothing survives the process; fresh actor ids each time. */
export class MemoryStore implements OfflineStore {
  private readonly docs = new Map<string, { snapshot: Uint8Array | null; changes: Uint8Array[] }>();
  private readonly actors = new Map<string, string>();
  private readonly deleted = new Set<string>();

  async actorId(clientId: string): Promise<string> {
    let actor = this.actors.get(clientId);
    if (actor === undefined) {
      actor = `${clientId}~${randomSuffix()}`;
      this.actors.set(clientId, actor);
    }
    return actor;
  }

  async load(docId: string): Promise<StoredDocument | null> {
    const doc = this.docs.get(docId);
    return doc === undefined ? null : { snapshot: doc.snapshot, changes: [...doc.changes] };
  }

  async append(docId: string, changes: Uint8Array): Promise<void> {
    const doc = this.docs.get(docId) ?? { snapshot: null, changes: [] };
    doc.changes.push(changes.slice());
    this.docs.set(docId, doc);
  }

  async saveSnapshot(docId: string, snapshot: Uint8Array): Promise<void> {
    this.docs.set(docId, { snapshot: snapshot.slice(), changes: [] });
  }

  async list(): Promise<string[]> {
    return [...this.docs.keys()];
  }

  async deleteDoc(docId: string): Promise<void> {
    this.docs.delete(docId);
    this.deleted.add(docId);
  }

  async isDeleted(docId: string): Promise<boolean> {
    return this.deleted.has(docId);
  }

  async deletedIds(): Promise<string[]> {
    return [...this.deleted];
  }

  async clear(): Promise<void> {
    this.docs.clear();
    this.actors.clear();
    this.deleted.clear();
  }

  async close(): Promise<void> {}
}
