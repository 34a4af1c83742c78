/**
 * The public face of the sync client: {@link connect} and {@link SyncClient} (a port of
 * `synckit.client._client`). The work is done by its parts: the engine (`engine.ts`, sans-IO
 * state of every document), the connection loop (`connection.ts`: WebSocket, back-off, the
 * switch to HTTP polling of `http-poll.ts`), the store's write queue (`writes.ts`) and the
 * shared state they act through (`shell.ts`).
 *
 * `await connect(url, options)` opens the offline store and starts one background loop. Over a
 * WebSocket it connects, reconnects with exponential back-off and full jitter, and shuttles
 * frames; with `transport: "auto"` (the default), when the WebSocket cannot be opened but the
 * server answers HTTP, it polls `POST /v1/docs/{id}/sync` for every open document instead,
 * trying the WebSocket again every `upgradeRetryMs`. Everything else is the engine's.
 *
 * @module
 */
import { DocumentDeletedError, InvalidValueError, LocalProtocolError, SyncTimeoutError } from "../errors.js";
import { checkDocId, errorToException, type ErrorEvent } from "../protocol/events.js";
import { Connection } from "./connection.js";
import type { SyncedDocument } from "./document.js";
import type { SyncEngine } from "./engine.js";
import type {
  ClientOptions, DeletedCallback, ErrorCallback, RejectedCallback, StatusCallback,
} from "./options.js";
import { PresenceHandle, type PresenceHost } from "./presence.js";
import { Listeners, ClientShell } from "./shell.js";
import { MemoryStore, type OfflineStore, type StoredDocument } from "./store.js";

export type {
  ClientOptions, DeletedCallback, ErrorCallback, RejectedCallback, StatusCallback, TokenSource, Transport,
} from "./options.js";

/**
 * Build a {@link SyncClient}: opens the store and starts syncing in the background; never
 * waits on the network.
 *
 * @throws InvalidValueError: a bad URL or option.
 */
export async function connect(url: string, options: ClientOptions = {}): Promise<SyncClient> {
  const store = options.store ?? new MemoryStore();
  const clientId = options.clientId ?? `ts-${Math.random().toString(16).slice(2, 10)}`;
  const actorId = await store.actorId(clientId);
  const tombstones = await store.deletedIds();
  const client = new SyncClient(url, actorId, store, options.store === undefined, { ...options, clientId });
  for (const docId of tombstones) client.engine.tombstones.add(docId);
  client.start();
  return client;
}

/** A SyncKit client; build it with {@link connect}, end it with {@link close}. */
export class SyncClient {
  /** The WebSocket URL of the sync endpoint. */
  readonly url: string;
  /** The engine (sans-IO state of every document). */
  readonly engine: SyncEngine;
  private readonly shell: ClientShell;
  private readonly connection: Connection;
  private runner: Promise<void> | null = null;
  private readonly rejectedCallbacks = new Listeners<[string, ErrorEvent]>();
  private readonly deletedCallbacks = new Listeners<[string, ErrorEvent]>();

  /** Use {@link connect}. */
  constructor(
    readonly baseUrl: string,
    actorId: string,
    /** The offline store. */
    readonly store: OfflineStore,
    private readonly ownsStore: boolean,
    options: ClientOptions,
  ) {
    const shell = new ClientShell(baseUrl, actorId, store, options);
    this.shell = shell;
    this.url = shell.url;
    this.engine = shell.engine;
    this.connection = new Connection(shell);
    this.engine.wake = () => this.connection.kick();
    this.engine.onRejected = (docId, error) => {
      shell.progress();
      this.rejectedCallbacks.emit(docId, error);
    };
    this.engine.onStore = (write) => shell.writes.push(write);
    this.engine.onRemote = () => shell.progress();
    this.engine.onDeleted = (docId, error) => {
      shell.progress();
      this.deletedCallbacks.emit(docId, error);
    };
  }

  /** Successful handshakes so far (over HTTP: times polling reached the server again). */
  get connections(): number {
    return this.shell.connections;
  }

  /**
   * The client id this replica's documents must write under: the `clientId` plus a per-store
   * suffix. {@link clear} changes it.
   */
  get actorId(): string {
    return this.engine.actorId;
  }

  /** Internal: start the background loop (called by {@link connect}). */
  start(): void {
    if (this.runner !== null) return;
    this.runner = this.connection.run().catch((exc) => this.shell.reportError(exc));
    // In a browser, the network coming back (the window's `online` event) ends the back-off
    // wait at once: offline for a while, the next attempt could be seconds away.
    const target = globalThis as { addEventListener?: EventTarget["addEventListener"] };
    if (typeof target.addEventListener === "function") {
      target.addEventListener("online", () => this.reconnectNow(), {
        signal: this.shell.stopping.signal,
      });
    }
  }

  /**
   * Try the server again now rather than at the end of the back-off wait, for when the app
   * knows the network is back (in a browser the client does this itself on the window's
   * `online` event). It ends the wait under way, if any: nothing changes while connected or
   * once closed, and a wait the server asked for (`retry_after_ms`) is kept.
   */
  reconnectNow(): void {
    if (!this.shell.closed) this.shell.wake();
  }

  // -- documents -------------------------------------------------------------------------

  /**
   * What the store holds of `docId` (load the snapshot, then apply the change sets), once the
   * store writes queued so far are done.
   *
   * @throws DocumentDeletedError: the document was deleted.
   */
  async load(docId: string): Promise<StoredDocument | null> {
    await this.shell.writes.settled;
    if (this.engine.tombstones.has(docId) || await this.store.isDeleted(docId)) {
      this.engine.tombstones.add(docId);
      throw new DocumentDeletedError(`document '${docId}' was deleted; its id can never be used again`, docId);
    }
    return this.store.load(docId);
  }

  /**
   * Sync `doc` as `docId` from now on; it must write under {@link actorId}. Load it from
   * {@link load} first to resume offline edits.
   *
   * @throws InvalidValueError: invalid document id. LocalProtocolError: already open.
   * @throws DocumentDeletedError: the document was deleted (known from the store, or told
   *   by the server since the client started).
   */
  open(docId: string, doc: SyncedDocument): void {
    this.engine.open(docId, doc);
    this.connection.kick();
  }

  /**
   * Close document `docId` and keep the client open: unsubscribe, stop syncing it and release
   * it (the document given to {@link open} is no longer stored or synced; {@link load} and
   * {@link open} it again for a live one). Its data stays in the store, and so do edits the
   * server has not acknowledged: they are sent once it is opened again (not before:
   * {@link waitSynced} no longer waits for them). Closing a document that is not open does
   * nothing. {@link close} with a document id does the same and waits for the store.
   */
  closeDocument(docId: string): void {
    this.engine.close(docId);
    this.connection.kick();
  }

  /**
   * The ids of the documents held locally, sorted: every document in the store (opened in
   * this process or not, synced or not) and every open one.
   *
   * @throws StorageError: the store failed.
   */
  async documents(): Promise<string[]> {
    await this.shell.writes.settled;
    return this.engine.storedDocIds(await this.store.list());
  }

  /**
   * Delete document `docId` for everyone, for good, then locally.
   *
   * The server must be reached: it checks that this client's principal has `admin` access
   * to the document, commits a tombstone, removes the stored data and tells every client
   * subscribed to it (each drops its copy; see {@link onDeleted}). Then the local copy goes
   * too, unsent edits included, and the store remembers the id as deleted. The id can never
   * be used again, by anyone. Deleting a deleted document resolves at once. Over a WebSocket
   * it sends `DeleteDoc` (offline, it waits for a connection, at most `timeoutMs`); while
   * polling over HTTP it sends `DELETE /v1/docs/{docId}`. On a refusal nothing changes,
   * here or on the server.
   *
   * @throws InvalidValueError: invalid document id.
   * @throws PermissionDeniedError: the principal lacks admin access to the document.
   * @throws ProtocolError: the server cannot delete documents (an older server), or failed to
   *   commit the deletion (`INTERNAL`: nothing changed; try again).
   * @throws AuthError: the server refused the connection for good.
   * @throws SyncTimeoutError: no answer within `timeoutMs` (a request already sent may still
   *   be carried out; one not sent yet is withdrawn).
   * @throws LocalProtocolError: the client is closed.
   */
  async delete(docId: string, timeoutMs?: number): Promise<void> {
    const problem = checkDocId(docId);
    if (problem !== null) throw new InvalidValueError(problem);
    if (this.shell.closed) throw new LocalProtocolError("the client is closed");
    const engine = this.engine;
    await this.shell.writes.settled;
    if (engine.tombstones.has(docId) || await this.store.isDeleted(docId)) return;
    if (this.shell.active === "http") {
      await this.connection.http.delete(docId);
      return;
    }
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const deletion = engine.askDelete(docId);
    this.connection.kick();
    try {
      for (;;) {
        if (deletion.done) break;
        if (deletion.error !== null) throw errorToException(deletion.error);
        if (engine.terminalError !== null) throw errorToException(engine.terminalError);
        if (this.shell.closed) throw new LocalProtocolError("the client is closed");
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new SyncTimeoutError(`no answer to deleting '${docId}' within ${timeoutMs} ms ` +
            `(${this.shell.online ? "online" : "offline"})`);
        }
        await this.shell.nextProgress(left);
      }
    } finally {
      engine.forgetDeletion(docId, !deletion.done);
    }
    await this.shell.writes.settled;
  }

  /**
   * Remove all local data: close every open document, and empty the store (every document,
   * every unsent edit, the local record of deleted documents). The client stays open and
   * usable: it writes from now on under a new actor id (the old one's operation numbers are
   * held by the server) and reconnects with it. Nothing is deleted on the server: opening a
   * document again fetches it anew (build it under the new {@link actorId}). Documents given
   * to {@link open} before are no longer stored or synced. Open no document until it resolves.
   *
   * @throws StorageError: the store failed (nothing was removed from it).
   * @throws LocalProtocolError: the client is closed.
   */
  async clear(): Promise<void> {
    if (this.shell.closed) throw new LocalProtocolError("the client is closed");
    this.engine.clearAll();
    await this.shell.writes.settled;
    await this.store.clear();
    const clientId = this.shell.options.clientId ?? this.actorId;
    this.engine.changeIdentity(await this.store.actorId(clientId));
    this.connection.kick(); // the session ends: reconnect under the new actor id
    this.shell.progress();
  }

  /**
   * Call `callback(docId, error)` whenever a document is deleted here because it was deleted
   * for everyone: by another client while this one follows it, before this client came back
   * online with it (its unsent edits are dropped), or by this client's {@link delete}.
   * `error` is the server's `DOC_DELETED`; opening the id again throws
   * {@link DocumentDeletedError}. Returns an unsubscribe.
   */
  onDeleted(callback: DeletedCallback): () => void {
    return this.deletedCallbacks.add(callback);
  }

  /**
   * Documents deleted here since the client started or was last cleared (by anyone), with the
   * server's `DOC_DELETED` error.
   */
  deleted(): Map<string, ErrorEvent> {
    return new Map(this.engine.deleted);
  }

  /**
   * Presence in open document `docId`.
   *
   * @throws LocalProtocolError: the document is not open, or `transport: "http"`.
   */
  presence(docId: string): PresenceHandle {
    if (this.shell.options.transport === "http") {
      throw new LocalProtocolError("presence needs a WebSocket: transport 'http' carries no presence");
    }
    const engine = this.engine;
    engine.docPresence(docId); // throws when not open
    const host: PresenceHost = {
      docPresence: (d) => engine.docPresence(d),
      setPresence: (d, state, value) => {
        engine.setPresence(d, state, value);
        this.connection.kick();
      },
      get maxPresenceBytes() { return engine.maxPresenceBytes; },
      get presenceAvailable() { return engine.presenceAvailable; },
    };
    return new PresenceHandle(host, docId);
  }

  // -- status and refusals ---------------------------------------------------------------

  /** Connected and welcomed (over HTTP: the last round reached the server). */
  get online(): boolean {
    return this.shell.online;
  }

  /** The transport in use or being tried now. */
  get activeTransport(): "websocket" | "http" {
    return this.shell.active;
  }

  /** Documents whose edits (or subscription) the server refuses as things stand. */
  rejections(): Map<string, ErrorEvent> {
    return this.engine.rejections();
  }

  /** Call `callback(online)` on every change of {@link online}; returns an unsubscribe. */
  onStatus(callback: StatusCallback): () => void {
    return this.shell.status.add(callback);
  }

  /**
   * Call `callback(docId, error)` whenever the server refuses a document's edits (a read-only
   * principal's push: `PERMISSION_DENIED`) or subscription, or changes its access. Refused
   * edits stay in the document and the store and are sent again on the next connection;
   * {@link waitSynced} rejects while the refusal stands. Returns an unsubscribe.
   */
  onRejected(callback: RejectedCallback): () => void {
    return this.rejectedCallbacks.add(callback);
  }

  /** Call `callback(error)` when the store fails or the loop meets an error; returns an unsubscribe. */
  onError(callback: ErrorCallback): () => void {
    return this.shell.errors.add(callback);
  }

  /**
   * Resolve once the server has acknowledged every local edit of every open document.
   *
   * @throws SyncTimeoutError: `timeoutMs` passed first.
   * @throws AuthError, PermissionDeniedError, LimitExceededError, ...: the server refused the
   *   connection or an edit for good, so waiting longer would not help.
   */
  waitSynced(timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.engine.unsynced().length === 0, timeoutMs,
      () => `not synced after ${timeoutMs} ms: unacknowledged edits in ${this.engine.unsynced().join(", ")}`);
  }

  /**
   * Resolve once the server's state of `docId` has arrived at least once.
   *
   * @throws SyncTimeoutError, or the refusal when the server refused the document
   *   ({@link DocumentDeletedError} when it was deleted).
   */
  waitReceived(docId: string, timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.engine.received(docId), timeoutMs,
      () => `no answer from the server for '${docId}' within ${timeoutMs} ms`, docId);
  }

  private async waitFor(done: () => boolean, timeoutMs: number | undefined, why: () => string,
    docId?: string): Promise<void> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      let error = this.engine.terminalError;
      if (error === null && docId !== undefined && this.engine.document(docId) === undefined) {
        error = this.engine.deleted.get(docId) ?? null; // DocumentDeletedError
      }
      if (error === null && docId !== undefined) {
        error = this.engine.docError(docId);
        if (error !== null && error.retryable) error = null;
      } else if (error === null) {
        error = this.engine.syncError();
      }
      if (error !== null) throw errorToException(error);
      if (done()) return;
      if (this.shell.closed) throw new LocalProtocolError("the client is closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new SyncTimeoutError(why());
      await this.shell.nextProgress(left);
    }
  }

  // -- lifetime --------------------------------------------------------------------------

  /**
   * With a document id: close that document (see {@link closeDocument}) and resolve once its
   * store writes are done; the client stays open. Without: stop syncing, close the
   * connection, finish the store writes and close an owned store.
   */
  async close(docId?: string): Promise<void> {
    if (docId !== undefined) {
      this.closeDocument(docId);
      await this.shell.writes.settled;
      return;
    }
    if (this.shell.closed) return;
    this.shell.closed = true;
    this.shell.stopping.abort();
    this.connection.closeSocket();
    this.shell.wake();
    if (this.runner !== null) await this.runner;
    await this.shell.writes.settled;
    for (const docId of this.engine.docIds) this.engine.close(docId);
    if (this.ownsStore) await this.store.close();
    this.shell.setOnline(false);
    this.shell.progress();
  }
}
