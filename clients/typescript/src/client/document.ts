/**
 * The document as the sync client sees it: a small interface, so the client does not depend
 * on the document model's internals. See `README.md` next to this file.
 *
 * @module
 */

/**
 * A document the sync client keeps in sync. The real `Document` of `../core` fits it through
 * a thin adapter; tests use doubles. Every byte string is the wire format of the Python core
 * (`synckit.v1.ChangeSet`, `synckit.v1.Version`, a snapshot).
 *
 * The document must write its own operations under the client's actor id
 * (`SyncClient.actorId`): the server refuses new operations under any other (`NOT_AUTHOR`).
 */
export interface SyncedDocument {
  /** The document's version vector, encoded as `synckit.v1.Version` bytes. */
  version(): Uint8Array;
  /**
   * The operations the document holds beyond version `since` (encoded `Version`; absent:
   * everything), as one encoded `synckit.v1.ChangeSet`. Applying the result to a replica at
   * `since` must bring it to this document's state.
   *
   * With `until` (encoded `Version`), only the operations that version covers: the client
   * uses it to send a backlog larger than the server's frame limit in parts. A document may
   * ignore it (then such a backlog is refused as too large, as before).
   */
  changes(since?: Uint8Array, until?: Uint8Array): Uint8Array;
  /**
   * Apply a `ChangeSet` from the server (idempotent: changes already held are skipped, and
   * changes waiting for causal predecessors wait inside the document). Must not report the
   * change to {@link onLocalChange} listeners.
   *
   * @throws any error when the bytes do not decode: the client then ends the connection.
   */
  apply(changes: Uint8Array): void;
  /** A snapshot of the whole document (what the offline store keeps). */
  save(): Uint8Array;
  /**
   * Call `callback` after every local edit (not after {@link apply}); returns an unsubscribe.
   */
  onLocalChange(callback: () => void): () => void;
}
