/**
 * Documents of one replica and their sync state over successive connections (a port of
 * `synckit.client._replicas`, without I/O). Transports build on it: {@link ./session-sync.ts}
 * (WebSocket) and {@link ./http-sync.ts} (HTTP fallback).
 *
 * Local edits are handed to the offline store (through {@link StoreWrite}s the shell performs
 * in order) before they can be sent; remote changes are stored as they came.
 *
 * @module
 */
import { DocumentDeletedError, InvalidValueError, LocalProtocolError } from "../errors.js";
import { decodeChangeSet } from "../gen/synckit/v1/changes.js";
import { ErrorCode, checkDocId, errorEvent, type ErrorEvent } from "../protocol/events.js";
import { ClientSession } from "../protocol/session.js";
import { State } from "../protocol/state.js";
import type { SyncedDocument } from "./document.js";
import { DocPresence } from "./presence.js";
import { decodeVersion, encodeVersion, seqOf, withEntry, type VersionMap } from "./version.js";

/** Errors after which reconnecting cannot help (unless the server says it may). */
export const TERMINAL: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.AUTH_FAILED, ErrorCode.PROTOCOL_VERSION, ErrorCode.NOT_AUTHOR, ErrorCode.TOO_MANY,
]);

/** Whether a fatal `error` from the server means reconnecting cannot help. */
export function isTerminal(error: ErrorEvent, tokenRenewable: boolean): boolean {
  if (error.code === ErrorCode.TOKEN_EXPIRED) return !tokenRenewable;
  return TERMINAL.has(error.code) && !error.retryable;
}

/**
 * A write for the offline store, performed by the shell in the order given: append a change
 * set, replace the snapshot, or delete the document (data and unsent edits) leaving a local
 * tombstone.
 */
export type StoreWrite =
  | { readonly kind: "append"; readonly docId: string; readonly changes: Uint8Array }
  | { readonly kind: "snapshot"; readonly docId: string; readonly snapshot: Uint8Array }
  | { readonly kind: "delete"; readonly docId: string };

/** A deletion of a document this replica asked the server for (see `ReplicaSet.askDelete`). */
export interface Deletion {
  /** The `DeleteDoc` request id on the current connection (0: not sent on it yet). */
  requestId: number;
  /** The server committed the deletion (the document is gone locally too). */
  done: boolean;
  /** The server's refusal (PERMISSION_DENIED, ...), or why it cannot be asked. */
  error: ErrorEvent | null;
}

/** One open document and what the engine knows of its sync state. */
export interface Replica {
  readonly doc: SyncedDocument;
  /** What the store holds (or was asked to hold) of the document. */
  persisted: VersionMap;
  /** Change sets appended since the last snapshot. */
  appended: number;
  readonly unsubscribe: () => void;
  /** The server's version as last told on this connection (`null`: not told yet). */
  serverRaw: Uint8Array | null;
  serverCache: [Uint8Array, VersionMap] | null;
  /** The document's version at the last push on this connection (`null`: none). */
  pushed: VersionMap | null;
  /** Our own last seq the server acknowledged as stored on this connection. */
  stored: number;
  /** Our own last seq in the HTTP request out (0: none of ours). */
  httpMine: number;
  /** The server's state arrived at least once. */
  received: boolean;
  /** Pushes wait until this engine time (ms): the server said when to retry. */
  retryAt: number;
  /** Subscribe again at this engine time (ms) after a retryable refusal; 0: not due. */
  resubscribeAt: number;
  /** The last error the server sent about this document. */
  error: ErrorEvent | null;
  /** An HTTP sync request for it is out. */
  httpPending: boolean;
  /** Bytes of changes in that request. */
  httpPushed: number;
  /** Own seqs its changes span, at least their operations (the next request has half as
   * many when the server says too many). */
  httpSeqs: number;
}

/** Options of a {@link ReplicaSet}. */
export interface ReplicaOptions {
  /** Sent with every Hello and HTTP request. */
  token?: string;
  /** A fresh token can be had (a `getToken` callback): an expired one is not the end. */
  tokenRenewable?: boolean;
  /** Ms without a frame while an answer is due before `tick` gives up (default 20 000). */
  responseTimeoutMs?: number;
  /** Ms of silence before `tick` sends a Ping (default 10 000). */
  pingIntervalMs?: number;
  /** Snapshot a document after this many appended change sets (default 64). */
  compactEvery?: number;
  /** Unix time in ms (token renewal); default `Date.now`. */
  wallClock?: () => number;
}

/** Documents of one replica and their sync state, over successive connections. */
export class ReplicaSet {
  /** The token sent with every Hello and HTTP request. */
  token: string;
  /** See {@link ReplicaOptions.tokenRenewable}. */
  readonly tokenRenewable: boolean;
  readonly responseTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly compactEvery: number;
  readonly wallClock: () => number;
  /** The protocol session of the current connection, if any. */
  session: ClientSession | null = null;
  /** The server's frame limit from its Welcome (0: unknown). */
  maxFrameBytes = 0;
  /** The most operations the server takes in one push, from its Welcome (0: unknown). */
  maxPushOps = 0;
  /** An error after which reconnecting is pointless (refused token, protocol version). */
  terminalError: ErrorEvent | null = null;
  /** The last fatal error of a connection, from either side. */
  lastError: ErrorEvent | null = null;
  /** When the token in use expires (Unix ms; `null`: never or unknown). */
  tokenExpiresMs: number | null = null;
  /** Pushes the server acknowledged, over all connections. */
  ackedPushes = 0;
  /** From the Welcome: the largest presence state the server keeps (0: unknown). */
  maxPresenceBytes = 0;
  /** How often to renew our presence state (ms). */
  presenceRenewMs = 10_000;
  /** Called whenever the server refuses a document's edits or subscription. */
  onRejected: ((docId: string, error: ErrorEvent) => void) | null = null;
  /** Called with writes for the offline store, to be performed in order. */
  onStore: ((write: StoreWrite) => void) | null = null;
  /** Called after remote changes were applied to a document. */
  onRemote: ((docId: string) => void) | null = null;
  /** Called when frames may be waiting (a local edit happened). */
  wake: (() => void) | null = null;
  /**
   * Called with (docId, error) once a document is deleted here because the server said it
   * was deleted (`DOC_DELETED`; also after this replica's own deletion).
   */
  onDeleted: ((docId: string, error: ErrorEvent) => void) | null = null;
  /** Documents deleted since the engine started (or was cleared): docId → the DOC_DELETED error. */
  readonly deleted = new Map<string, ErrorEvent>();
  /**
   * Ids known to be deleted: the store's tombstones (the shell loads them at start) and those
   * deleted since. {@link open} refuses them.
   */
  readonly tombstones = new Set<string>();
  /** Deletions asked of the server: docId → its state. */
  protected readonly deletions = new Map<string, Deletion>();
  protected readonly replicas = new Map<string, Replica>();
  protected readonly presenceRecords = new Map<string, DocPresence>();
  protected lastHeard = 0;

  /** The client id every document writes under (see `OfflineStore.actorId`); a clear changes it. */
  actorId: string;

  /**
   * @param actorId - the client id every document writes under (see `OfflineStore.actorId`).
   */
  constructor(actorId: string, options: ReplicaOptions = {}) {
    this.actorId = actorId;
    this.token = options.token ?? "";
    this.tokenRenewable = options.tokenRenewable ?? false;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 20_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 10_000;
    this.compactEvery = options.compactEvery ?? 64;
    this.wallClock = options.wallClock ?? Date.now;
  }

  /**
   * Sync `doc` as document `docId` from now on (it was loaded from the store by the caller:
   * everything it holds counts as stored).
   *
   * @throws InvalidValueError: invalid document id. LocalProtocolError: `docId` is open.
   *   DocumentDeletedError: `docId` was deleted (see {@link tombstones}).
   */
  open(docId: string, doc: SyncedDocument): void {
    const problem = checkDocId(docId);
    if (problem !== null) throw new InvalidValueError(problem);
    if (this.tombstones.has(docId)) {
      throw new DocumentDeletedError(`document '${docId}' was deleted; its id can never be used again`, docId);
    }
    if (this.replicas.has(docId)) throw new LocalProtocolError(`document '${docId}' is already open`);
    const unsubscribe = doc.onLocalChange(() => this.localChange(docId));
    const rep: Replica = {
      doc, persisted: this.versionOf(doc), appended: 0, unsubscribe, serverRaw: null,
      serverCache: null, pushed: null, stored: 0, httpMine: 0, received: false, retryAt: 0,
      resubscribeAt: 0, error: null, httpPending: false, httpPushed: 0, httpSeqs: 0,
    };
    this.replicas.set(docId, rep);
    this.opened(docId, rep);
  }

  /**
   * Stop syncing `docId` and forget it; its store data stays, unsent edits included (they are
   * sent once it is opened again). A document with change sets appended since its last
   * snapshot is snapshotted first. Closing a document that is not open does nothing.
   */
  close(docId: string): void {
    const rep = this.replicas.get(docId);
    if (rep === undefined) return;
    this.replicas.delete(docId);
    rep.unsubscribe();
    this.closed(docId);
    if (rep.appended) this.onStore?.({ kind: "snapshot", docId, snapshot: rep.doc.save() });
  }

  /**
   * The documents held locally, sorted: `stored` (the store's list) and the open ones (one
   * opened and never edited has nothing stored yet), without deleted ones.
   */
  storedDocIds(stored: Iterable<string>): string[] {
    const ids = new Set<string>(stored);
    for (const docId of this.replicas.keys()) ids.add(docId);
    for (const docId of this.tombstones) ids.delete(docId);
    return [...ids].sort();
  }

  /**
   * The server says `docId` is deleted (`error`, DOC_DELETED): close it and remove it from
   * the store, unsent edits included, leaving a tombstone there ({@link open} refuses it
   * from now on); then tell {@link onDeleted}. Told again (the server names a deleted
   * document in each refusal), it does nothing.
   */
  dropDeleted(docId: string, error: ErrorEvent): void {
    if (this.deleted.has(docId) && !this.replicas.has(docId)) return;
    const rep = this.replicas.get(docId);
    if (rep !== undefined) {
      this.replicas.delete(docId);
      rep.unsubscribe();
      this.closed(docId);
    }
    this.onStore?.({ kind: "delete", docId });
    this.tombstones.add(docId);
    this.deleted.set(docId, error);
    const deletion = this.deletions.get(docId);
    if (deletion !== undefined) deletion.done = true;
    this.onDeleted?.(docId, error);
  }

  /**
   * Ask the server to delete `docId` (sent on the current or next connection with a server
   * that can); its state, until {@link forgetDeletion}.
   */
  askDelete(docId: string): Deletion {
    let deletion = this.deletions.get(docId);
    if (deletion === undefined || deletion.error !== null) {
      deletion = { requestId: 0, done: false, error: null };
      this.deletions.set(docId, deletion);
    }
    this.sendDeletions();
    return deletion;
  }

  /**
   * Stop tracking the deletion of `docId` (`unsentOnly`: only when it was not sent on this
   * connection, so that it is never sent later).
   */
  forgetDeletion(docId: string, unsentOnly = false): void {
    const deletion = this.deletions.get(docId);
    if (deletion !== undefined && (!unsentOnly || !deletion.requestId)) this.deletions.delete(docId);
  }

  /**
   * Close every document and forget the deletions and deleted ids (the shell empties the
   * store); call {@link changeIdentity} with the store's new actor id next.
   */
  clearAll(): void {
    for (const [docId, rep] of [...this.replicas]) {
      this.replicas.delete(docId);
      rep.unsubscribe();
      this.closed(docId);
    }
    this.presenceRecords.clear();
    this.deletions.clear();
    this.deleted.clear();
    this.tombstones.clear();
  }

  /** Write under `actorId` from now on (after a clear); a session must start again. */
  changeIdentity(actorId: string): void {
    if (actorId === this.actorId) return;
    this.actorId = actorId;
    this.identityChanged();
  }

  /** A transport's hook: send the deletions not sent yet. */
  protected sendDeletions(): void {}

  /** A transport's hook: the actor id changed (a session must start again). */
  protected identityChanged(): void {}

  /** A transport's hook: `docId` was just opened. */
  protected opened(_docId: string, _rep: Replica): void {}

  /** A transport's hook: `docId` was just closed. */
  protected closed(_docId: string): void {}

  /** A transport's hook: the server sent bytes that do not decode. */
  protected fail(_code: ErrorCode, _message: string): void {}

  /** The open documents' ids. */
  get docIds(): string[] {
    return [...this.replicas.keys()];
  }

  /** The open document `docId`, if open. */
  document(docId: string): SyncedDocument | undefined {
    return this.replicas.get(docId)?.doc;
  }

  /** The last error recorded for open document `docId` (`null`: none). */
  docError(docId: string): ErrorEvent | null {
    return this.replicas.get(docId)?.error ?? null;
  }

  protected versionOf(doc: SyncedDocument): VersionMap {
    return decodeVersion(doc.version());
  }

  private localChange(docId: string): void {
    const rep = this.replicas.get(docId);
    if (rep === undefined) return;
    const version = this.versionOf(rep.doc);
    if (!dominates(rep.persisted, version)) {
      this.append(docId, rep, rep.doc.changes(encodeVersion(rep.persisted)), version);
    }
    this.wake?.();
  }

  private append(docId: string, rep: Replica, changes: Uint8Array, version: VersionMap): void {
    rep.persisted = version;
    rep.appended += 1;
    if (rep.appended >= this.compactEvery) {
      rep.appended = 0;
      this.onStore?.({ kind: "snapshot", docId, snapshot: rep.doc.save() });
    } else {
      this.onStore?.({ kind: "append", docId, changes });
    }
  }

  /** The server's version (decoded once per new value); `null` when not told. */
  protected server(rep: Replica): VersionMap | null {
    const raw = rep.serverRaw;
    if (raw === null) return null;
    if (rep.serverCache !== null && rep.serverCache[0] === raw) return rep.serverCache[1];
    let version: VersionMap;
    try {
      version = decodeVersion(raw);
    } catch (exc) {
      this.fail(ErrorCode.BAD_CHANGES, `server version does not decode: ${String(exc)}`);
      rep.serverRaw = null;
      return null;
    }
    rep.serverCache = [raw, version];
    return version;
  }

  /** A session is open (the server accepted our Hello). */
  get online(): boolean {
    return this.session !== null && this.session.state === State.OPEN;
  }

  /** Documents holding local edits the server has not acknowledged. */
  unsynced(): string[] {
    const out: string[] = [];
    for (const [docId, rep] of this.replicas) {
      const mine = seqOf(this.versionOf(rep.doc), this.actorId);
      const server = this.server(rep);
      if (server === null) {
        if (mine) out.push(docId);
      } else if (Math.max(seqOf(server, this.actorId), rep.stored) < mine) {
        out.push(docId);
      }
    }
    return out;
  }

  /** Documents whose edits (or subscription) the server refuses as things stand. */
  rejections(): Map<string, ErrorEvent> {
    const out = new Map<string, ErrorEvent>();
    for (const [docId, rep] of this.replicas) if (rep.error !== null) out.set(docId, rep.error);
    return out;
  }

  /** The server's state of `docId` has arrived at least once since it was opened. */
  received(docId: string): boolean {
    return this.replicas.get(docId)?.received ?? false;
  }

  protected reject(docId: string, rep: Replica, error: ErrorEvent): void {
    rep.error = error;
    this.onRejected?.(docId, error);
  }

  /** An error that keeps local edits from ever being acknowledged as things stand. */
  syncError(): ErrorEvent | null {
    if (this.terminalError !== null) return this.terminalError;
    for (const rep of this.replicas.values()) {
      if (rep.error !== null && !rep.error.retryable) return rep.error;
    }
    return null;
  }

  /** Refuse to push when the server holds more of our own edits than the document did. */
  protected checkRolledBack(docId: string, rep: Replica, mine: number, server: VersionMap): void {
    const held = seqOf(server, this.actorId);
    if (held > mine) {
      rep.error = errorEvent(ErrorCode.EQUIVOCATION,
        `the store of '${this.actorId}' is older than the server's copy of its edits to ` +
        `'${docId}' (seq ${mine} < ${held}): was it restored from a backup? Use a fresh store`,
        { docId });
    }
  }

  /** Apply changes from the server and store them as they came; false when they do not decode. */
  protected applyRemote(docId: string, rep: Replica, changes: Uint8Array): boolean {
    const before = rep.doc.version();
    try {
      rep.doc.apply(changes);
    } catch (exc) {
      this.fail(ErrorCode.BAD_CHANGES, `changes for '${docId}' do not decode: ${String(exc)}`);
      return false;
    }
    const after = rep.doc.version();
    if (!sameBytes(before, after)) {
      this.append(docId, rep, changes, decodeVersion(after));
      this.onRemote?.(docId);
    }
    return true;
  }

  /**
   * Our edits after `since` (see {@link ownSince}) as changes of at most `room` bytes (0: no
   * limit) and {@link maxPushOps} operations, and the own seq they reach. A backlog larger
   * than one push (long offline, or held back by the server's rate limit) goes in parts,
   * oldest first: the largest prefix of our edits that fits. Only a single edit larger than
   * `room` comes back too large. (Python: `_own_part`.)
   */
  protected ownPart(doc: SyncedDocument, version: VersionMap, since: VersionMap, room: number): [Uint8Array, number] {
    const me = this.actorId;
    const sinceBytes = encodeVersion(since);
    const data = doc.changes(sinceBytes);
    const first = seqOf(since, me);
    if (this.fits(data, seqOf(version, me) - first, room)) return [data, seqOf(version, me)];
    let low = first + 1;
    let high = seqOf(version, me) - 1;
    let best: [Uint8Array, number] | null = null;
    while (low <= high) {
      const mid = Math.floor((low + high) / 2);
      const part = doc.changes(sinceBytes, encodeVersion(withEntry(version, me, mid)));
      if (this.fits(part, mid - first, room)) {
        best = [part, mid];
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    if (best !== null) return best;
    return [doc.changes(sinceBytes, encodeVersion(withEntry(version, me, first + 1))), first + 1];
  }

  /**
   * Whether `part`, changes spanning `seqs` own seqs, fits in one push: at most `room` bytes
   * (0: any) and {@link maxPushOps} operations (an operation takes at least one seq, so they
   * are counted only when the seqs are more). (Python: `_fits`.)
   */
  private fits(part: Uint8Array, seqs: number, room: number): boolean {
    if (room && part.length > room) return false;
    const limit = this.maxPushOps;
    return !limit || seqs <= limit || countOps(part) <= limit;
  }

  /**
   * The server refused a push of `refused` operations (or own seqs, which are at least as
   * many) as too many, or as too much work to merge: from now on at most half as many per
   * push. False when a single one was refused. (Python: `_fewer_ops`.)
   */
  protected fewerOps(refused: number): boolean {
    if (refused <= 1) return false;
    this.maxPushOps = Math.max(1, Math.floor(Math.min(this.maxPushOps || refused, refused) / 2));
    return true;
  }

  /** `version` with our own entry from `server`: changes since it are exactly our unsent edits. */
  protected ownSince(version: VersionMap, server: VersionMap): VersionMap {
    const out = new Map(version);
    const seq = seqOf(server, this.actorId);
    if (seq) out.set(this.actorId, seq);
    else out.delete(this.actorId);
    return out;
  }
}

/** The operations in the `ChangeSet` `data` (each change's `kinds` has one per operation). */
export function countOps(data: Uint8Array): number {
  let n = 0;
  for (const change of decodeChangeSet(data).changes) n += change.kinds.length;
  return n;
}

/** Whether `a` holds everything `b` does. */
export function dominates(a: VersionMap, b: VersionMap): boolean {
  for (const [client, seq] of b) if (seqOf(a, client) < seq) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
