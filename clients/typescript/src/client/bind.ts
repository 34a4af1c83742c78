/**
 * The real {@link Document} wired to the sync client: `await openDocument(client, "todos")`
 * returns a `Document` that writes under `client.actorId`, resumes from the offline store
 * (edits made in an earlier run, before they were sent, are sent now) and syncs in the
 * background (the TypeScript counterpart of the Python client's `await client.open(doc_id)`).
 *
 * @module
 */
import { InvalidValueError } from "../errors.js";
import { Document, type DocumentOptions } from "../core/document.js";
import { VersionVector } from "../core/version.js";
import type { SyncClient } from "./client.js";
import type { SyncedDocument } from "./document.js";

/**
 * A {@link Document} seen as a {@link SyncedDocument}: the thin adapter the sync client needs.
 * Remote changes given to {@link apply} are not reported as local edits.
 */
export class DocumentAdapter implements SyncedDocument {
  /** @param doc - the document; it must write under the client's actor id. */
  constructor(readonly doc: Document) {}

  /** The version vector as `synckit.v1.Version` bytes. */
  version(): Uint8Array {
    return this.doc.version().encode();
  }

  /** The operations beyond `since` (encoded `Version`; absent: all), of those only the ones
   * `until` covers (absent: all), as one ChangeSet. */
  changes(since?: Uint8Array, until?: Uint8Array): Uint8Array {
    return this.doc.changes(
      since === undefined ? null : VersionVector.decode(since),
      until === undefined ? null : VersionVector.decode(until),
    );
  }

  /** Apply a ChangeSet from the server. */
  apply(changes: Uint8Array): void {
    this.doc.apply(changes);
  }

  /**
   * A snapshot of the whole document, for the offline store: its spent dependencies are
   * trimmed first ({@link Document.trimHistory}), as the Python client's are, so that what a
   * document keeps stays bounded by what it holds.
   */
  save(): Uint8Array {
    this.doc.trimHistory();
    return this.doc.save();
  }

  /** `callback()` after every local edit of the document; returns an unsubscribe. */
  onLocalChange(callback: () => void): () => void {
    return this.doc.subscribe((event) => {
      if (event.local) callback();
    }, { textEdits: false });
  }
}

/** Options of {@link openDocument}. */
export interface OpenOptions {
  /** Resolve only once the server's state of the document has arrived (default false). */
  wait?: boolean;
  /** With `wait`: give up after this many ms (`SyncTimeoutError`; default: no limit). */
  timeoutMs?: number;
  /** Options of the `Document` built (e.g. a test clock). */
  document?: DocumentOptions;
}

const opened = new WeakMap<SyncClient, Map<string, Promise<Document>>>();

/**
 * Build the document a store holds: its snapshot, then its change sets, written under
 * `actorId` from now on.
 *
 * @throws DecodeError: the store holds corrupt data.
 */
export async function restoreDocument(client: SyncClient, docId: string,
  options: DocumentOptions = {}): Promise<Document> {
  const stored = await client.load(docId);
  const doc = stored?.snapshot != null
    ? Document.load(stored.snapshot, client.actorId, options)
    : new Document(client.actorId, options);
  for (const changes of stored?.changes ?? []) doc.apply(changes);
  return doc;
}

/**
 * The document `docId` of `client`, synced from now on: restored from the offline store
 * (unsent edits of an earlier run are sent once online), then opened on the client. Opening
 * a document the same client opened before returns the same `Document`.
 *
 * @throws InvalidValueError: invalid document id. DecodeError: corrupt stored data.
 * @throws SyncTimeoutError: `wait` and no answer within `timeoutMs`.
 * @throws AuthError, PermissionDeniedError, ...: `wait` and the server refused it.
 */
export async function openDocument(client: SyncClient, docId: string,
  options: OpenOptions = {}): Promise<Document> {
  if (typeof docId !== "string" || docId === "") throw new InvalidValueError("a document id is a non-empty string");
  let docs = opened.get(client);
  if (docs === undefined) {
    docs = new Map();
    opened.set(client, docs);
  }
  let pending = docs.get(docId);
  if (pending === undefined) {
    pending = (async () => {
      const doc = await restoreDocument(client, docId, options.document ?? {});
      client.open(docId, new DocumentAdapter(doc));
      return doc;
    })();
    docs.set(docId, pending);
    pending.catch(() => docs.delete(docId));
  }
  const doc = await pending;
  if (options.wait === true) await client.waitReceived(docId, options.timeoutMs);
  return doc;
}

/**
 * Forget the `Document` {@link openDocument} returned for `docId` and stop syncing it (its
 * stored data stays); a later `openDocument` restores it again from the store.
 */
export function closeDocument(client: SyncClient, docId: string): void {
  const docs = opened.get(client);
  if (docs?.delete(docId) === true) client.closeDocument(docId);
}
