/**
 * The sync client: a thin shell that moves bytes between the network and a {@link SyncEngine}
 * (a port of `synckit.client._client`).
 *
 * `await connect(url, options)` opens the offline store and starts one background loop. Over a
 * WebSocket it connects, reconnects with exponential back-off and full jitter, and shuttles
 * frames; with `transport: "auto"` (the default), when the WebSocket cannot be opened but the
 * server answers HTTP, it polls `POST /v1/docs/{id}/sync` for every open document instead,
 * trying the WebSocket again every `upgradeRetryMs`. Everything else is the engine's.
 *
 * @module
 */
import {
  DocumentDeletedError, InvalidTypeError, InvalidValueError, LocalProtocolError, SyncTimeoutError,
} from "../errors.js";
import { ErrorCode, checkDocId, errorEvent, errorToException, type ErrorEvent } from "../protocol/events.js";
import { HTTP_MEDIA_TYPE } from "../protocol/http.js";
import type { SyncedDocument } from "./document.js";
import { SyncEngine } from "./engine.js";
import { PresenceHandle, type PresenceHost } from "./presence.js";
import type { StoreWrite } from "./replicas.js";
import { MemoryStore, type OfflineStore, type StoredDocument } from "./store.js";
import { backoffDelay, httpDocUrl, httpSyncUrl, syncUrl } from "./url.js";
import { openSocket, type SocketLike, type WebSocketConstructor } from "./socket.js";

/** Where tokens come from: a fixed string, or a callback asked before every connection and
 * again before the token in use expires (and after the server said it expired). */
export type TokenSource = string | (() => string | Promise<string>);

/** How the client reaches the server. */
export type Transport = "websocket" | "http" | "auto";

/** Options of {@link connect}. */
export interface ClientOptions {
  /** Names this replica; the actor id adds a per-store suffix. Random when absent. */
  clientId?: string;
  /** The offline store (default: a {@link MemoryStore}, closed with the client). */
  store?: OfflineStore;
  /** The token (see {@link TokenSource}). */
  token?: TokenSource;
  /** Another way to give a token callback (wins over `token`). */
  getToken?: () => string | Promise<string>;
  /** `"websocket"`, `"http"` (polling) or `"auto"` (default: WebSocket, HTTP when it is refused). */
  transport?: Transport;
  /** The WebSocket constructor (default: the global `WebSocket`; in Node 20 pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /** The `fetch` function (default: the global one). */
  fetch?: typeof fetch;
  /** Ms between HTTP polling rounds (default 1000). */
  pollIntervalMs?: number;
  /** With `"auto"`: ms of HTTP polling before the WebSocket is tried again (default 300 000). */
  upgradeRetryMs?: number;
  /** Reconnect delays are uniform in `[0, min(backoffMaxMs, backoffBaseMs * 2 ** failures)]`. */
  backoffBaseMs?: number;
  /** See {@link backoffBaseMs} (default 5000; base default 50). */
  backoffMaxMs?: number;
  /** Ms without an answer that is due before a connection is given up (default 20 000). */
  responseTimeoutMs?: number;
  /** Ms of silence before a Ping (default 10 000). */
  pingIntervalMs?: number;
  /** Randomness in [0, 1) for the jitter (tests pass a seeded one). */
  random?: () => number;
}

/** `callback(online)`: the client went online or offline. */
export type StatusCallback = (online: boolean) => void;
/** `callback(docId, error)`: the server refused a document's edits or subscription. */
export type RejectedCallback = (docId: string, error: ErrorEvent) => void;
/**
 * `callback(docId, error)`: the document was deleted for everyone (by anyone with admin
 * access, this client included); its local copy and unsent edits are gone. `error` is the
 * server's `DOC_DELETED`.
 */
export type DeletedCallback = (docId: string, error: ErrorEvent) => void;
/** `callback(error)`: the offline store failed, or a connection ended with an error. */
export type ErrorCallback = (error: unknown) => void;

const REQUESTS_PER_ROUND = 4;
const MAX_RETRY_AFTER_MS = 60_000;

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
  /** Successful handshakes so far (over HTTP: times polling reached the server again). */
  connections = 0;
  private readonly options: ClientOptions;
  private readonly tokenSource: TokenSource;
  private active: "websocket" | "http";
  private isOnline = false;
  private closed = false;
  private readonly stopping = new AbortController();
  private socket: SocketLike | null = null;
  private writes: Promise<void> = Promise.resolve();
  private kickPending = false;
  private wakeSleep: (() => void) | null = null;
  private runner: Promise<void> | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private progressWaiters: (() => void)[] = [];
  private readonly statusCallbacks = new Set<StatusCallback>();
  private readonly rejectedCallbacks = new Set<RejectedCallback>();
  private readonly errorCallbacks = new Set<ErrorCallback>();
  private readonly deletedCallbacks = new Set<DeletedCallback>();

  /** Use {@link connect}. */
  constructor(
    readonly baseUrl: string,
    actorId: string,
    /** The offline store. */
    readonly store: OfflineStore,
    private readonly ownsStore: boolean,
    options: ClientOptions,
  ) {
    this.url = syncUrl(baseUrl);
    const transport = options.transport ?? "auto";
    if (!["websocket", "http", "auto"].includes(transport)) {
      throw new InvalidValueError(`transport must be websocket, http or auto, got ${transport}`);
    }
    this.options = { ...options, transport };
    this.tokenSource = options.getToken ?? options.token ?? "";
    this.active = transport === "http" ? "http" : "websocket";
    this.engine = new SyncEngine(actorId, {
      token: typeof this.tokenSource === "string" ? this.tokenSource : "",
      tokenRenewable: typeof this.tokenSource !== "string",
      ...(options.responseTimeoutMs === undefined ? {} : { responseTimeoutMs: options.responseTimeoutMs }),
      ...(options.pingIntervalMs === undefined ? {} : { pingIntervalMs: options.pingIntervalMs }),
    });
    this.engine.wake = () => this.kick();
    this.engine.onRejected = (docId, error) => {
      this.progress();
      for (const cb of [...this.rejectedCallbacks]) cb(docId, error);
    };
    this.engine.onStore = (write) => this.persist(write);
    this.engine.onRemote = () => this.progress();
    this.engine.onDeleted = (docId, error) => {
      this.progress();
      for (const cb of [...this.deletedCallbacks]) cb(docId, error);
    };
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
    this.runner = this.run().catch((exc) => this.reportError(exc));
  }

  // -- documents -------------------------------------------------------------------------

  /**
   * What the store holds of `docId` (load the snapshot, then apply the change sets), once the
   * store writes queued so far are done.
   *
   * @throws DocumentDeletedError: the document was deleted.
   */
  async load(docId: string): Promise<StoredDocument | null> {
    await this.writes;
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
    this.kick();
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
    this.kick();
  }

  /**
   * The ids of the documents held locally, sorted: every document in the store (opened in
   * this process or not, synced or not) and every open one.
   *
   * @throws StorageError: the store failed.
   */
  async documents(): Promise<string[]> {
    await this.writes;
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
    if (this.closed) throw new LocalProtocolError("the client is closed");
    const engine = this.engine;
    await this.writes;
    if (engine.tombstones.has(docId) || await this.store.isDeleted(docId)) return;
    if (this.active === "http") {
      await this.deleteOverHttp(docId);
      return;
    }
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const deletion = engine.askDelete(docId);
    this.kick();
    try {
      for (;;) {
        if (deletion.done) break;
        if (deletion.error !== null) throw errorToException(deletion.error);
        if (engine.terminalError !== null) throw errorToException(engine.terminalError);
        if (this.closed) throw new LocalProtocolError("the client is closed");
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new SyncTimeoutError(`no answer to deleting '${docId}' within ${timeoutMs} ms ` +
            `(${this.isOnline ? "online" : "offline"})`);
        }
        await this.nextProgress(left);
      }
    } finally {
      engine.forgetDeletion(docId, !deletion.done);
    }
    await this.writes;
  }

  /** {@link delete} with `DELETE /v1/docs/{docId}` (HTTP polling). */
  private async deleteOverHttp(docId: string): Promise<void> {
    await this.freshToken();
    const body = this.engine.httpDeleteRequest();
    const response = await this.fetcher()(httpDocUrl(this.baseUrl, docId), {
      method: "DELETE",
      body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
      headers: { "content-type": HTTP_MEDIA_TYPE, accept: HTTP_MEDIA_TYPE },
      signal: this.requestSignal(),
    });
    const answer = new Uint8Array(await response.arrayBuffer());
    this.engine.receiveHttpDelete(docId, response.status === 200, answer, response.status,
      response.headers.get("content-type") ?? "");
    await this.writes;
    this.progress();
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
    if (this.closed) throw new LocalProtocolError("the client is closed");
    this.engine.clearAll();
    await this.writes;
    await this.store.clear();
    const clientId = this.options.clientId ?? this.actorId;
    this.engine.changeIdentity(await this.store.actorId(clientId));
    this.kick(); // the session ends: reconnect under the new actor id
    this.progress();
  }

  /**
   * Call `callback(docId, error)` whenever a document is deleted here because it was deleted
   * for everyone: by another client while this one follows it, before this client came back
   * online with it (its unsent edits are dropped), or by this client's {@link delete}.
   * `error` is the server's `DOC_DELETED`; opening the id again throws
   * {@link DocumentDeletedError}. Returns an unsubscribe.
   */
  onDeleted(callback: DeletedCallback): () => void {
    this.deletedCallbacks.add(callback);
    return () => this.deletedCallbacks.delete(callback);
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
    if (this.options.transport === "http") {
      throw new LocalProtocolError("presence needs a WebSocket: transport 'http' carries no presence");
    }
    const engine = this.engine;
    engine.docPresence(docId); // throws when not open
    const host: PresenceHost = {
      docPresence: (d) => engine.docPresence(d),
      setPresence: (d, state, value) => {
        engine.setPresence(d, state, value);
        this.kick();
      },
      get maxPresenceBytes() { return engine.maxPresenceBytes; },
      get presenceAvailable() { return engine.presenceAvailable; },
    };
    return new PresenceHandle(host, docId);
  }

  // -- status and refusals ---------------------------------------------------------------

  /** Connected and welcomed (over HTTP: the last round reached the server). */
  get online(): boolean {
    return this.isOnline;
  }

  /** The transport in use or being tried now. */
  get activeTransport(): "websocket" | "http" {
    return this.active;
  }

  /** Documents whose edits (or subscription) the server refuses as things stand. */
  rejections(): Map<string, ErrorEvent> {
    return this.engine.rejections();
  }

  /** Call `callback(online)` on every change of {@link online}; returns an unsubscribe. */
  onStatus(callback: StatusCallback): () => void {
    this.statusCallbacks.add(callback);
    return () => this.statusCallbacks.delete(callback);
  }

  /**
   * Call `callback(docId, error)` whenever the server refuses a document's edits (a read-only
   * principal's push: `PERMISSION_DENIED`) or subscription, or changes its access. Refused
   * edits stay in the document and the store and are sent again on the next connection;
   * {@link waitSynced} rejects while the refusal stands. Returns an unsubscribe.
   */
  onRejected(callback: RejectedCallback): () => void {
    this.rejectedCallbacks.add(callback);
    return () => this.rejectedCallbacks.delete(callback);
  }

  /** Call `callback(error)` when the store fails or the loop meets an error; returns an unsubscribe. */
  onError(callback: ErrorCallback): () => void {
    this.errorCallbacks.add(callback);
    return () => this.errorCallbacks.delete(callback);
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
      if (this.closed) throw new LocalProtocolError("the client is closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new SyncTimeoutError(why());
      await this.nextProgress(left);
    }
  }

  /** Resolve on the next progress, or after `ms`. */
  private nextProgress(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === Infinity ? null : setTimeout(resolve, ms);
      this.progressWaiters.push(() => {
        if (timer !== null) clearTimeout(timer);
        resolve();
      });
    });
  }

  private progress(): void {
    const waiters = this.progressWaiters;
    this.progressWaiters = [];
    for (const w of waiters) w();
  }

  private setOnline(online: boolean): void {
    if (online === this.isOnline) return;
    this.isOnline = online;
    this.progress();
    for (const cb of [...this.statusCallbacks]) cb(online);
  }

  private reportError(error: unknown): void {
    for (const cb of [...this.errorCallbacks]) cb(error);
  }

  // -- the store -------------------------------------------------------------------------

  private persist(write: StoreWrite): void {
    const store = this.store;
    this.writes = this.writes.then(async () => {
      try {
        if (write.kind === "append") await store.append(write.docId, write.changes);
        else if (write.kind === "snapshot") await store.saveSnapshot(write.docId, write.snapshot);
        else await store.deleteDoc(write.docId);
      } catch (exc) {
        this.reportError(exc);
      }
    });
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
      await this.writes;
      return;
    }
    if (this.closed) return;
    this.closed = true;
    this.stopping.abort();
    this.socket?.close(1000, "client closed");
    this.wakeSleep?.();
    if (this.runner !== null) await this.runner;
    await this.writes;
    for (const docId of this.engine.docIds) this.engine.close(docId);
    if (this.ownsStore) await this.store.close();
    this.setOnline(false);
    this.progress();
  }

  private kick(): void {
    if (this.kickPending) return;
    this.kickPending = true;
    // After the store writes queued so far: an edit is stored before it is sent.
    void this.writes.then(() => {
      this.kickPending = false;
      this.writeFrames();
    });
  }

  private writeFrames(): void {
    const socket = this.socket;
    if (socket === null) return;
    this.engine.flush();
    if (this.engine.syncError() !== null) this.progress();
    for (const frame of this.engine.dataToSend()) socket.send(frame);
    if (this.engine.closing) socket.close(1000, "session ended");
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() { clearTimeout(timer); resolve(); }
      this.wakeSleep = done;
    });
  }

  private async freshToken(): Promise<void> {
    const source = this.tokenSource;
    if (typeof source === "string") return;
    const token = await source();
    if (typeof token !== "string") throw new InvalidTypeError(`the token callback returned ${typeof token}, not a string`);
    this.engine.token = token;
  }

  private tokenFailed(exc: unknown): void {
    this.engine.lastError = errorEvent(ErrorCode.AUTH_FAILED, `the token callback failed: ${String(exc)}`);
    this.reportError(exc);
  }

  // -- the connection loop ---------------------------------------------------------------

  private async run(): Promise<void> {
    const base = this.options.backoffBaseMs ?? 50;
    const cap = this.options.backoffMaxMs ?? 5000;
    const random = this.options.random ?? Math.random;
    let failures = 0;
    if (this.options.transport === "http") {
      await this.poll(Infinity);
      return;
    }
    while (!this.closed) {
      if (this.engine.terminalError !== null) {
        this.setOnline(false);
        this.progress();
        await this.sleep(2 ** 31 - 1); // refused for good: until closed
        continue;
      }
      const before = this.connections;
      const errorBefore = this.engine.lastError;
      let opened = false;
      try {
        await this.freshToken();
        opened = await this.serve();
      } catch (exc) {
        this.tokenFailed(exc);
        opened = true; // not the transport's fault
      } finally {
        this.engine.connectionLost();
        this.socket = null;
        this.setOnline(false);
      }
      if (this.closed) break;
      if (!opened && this.options.transport === "auto" && (await this.httpReachable())) {
        await this.poll(Date.now() + (this.options.upgradeRetryMs ?? 300_000));
        failures = 0;
        continue;
      }
      if (this.connections > before) failures = 0;
      let delay = backoffDelay(failures, base, cap, random);
      failures += 1;
      const error = this.engine.lastError;
      if (error !== errorBefore && error !== null && error.retryAfterMs) {
        delay = Math.max(delay, Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS));
      }
      await this.sleep(delay);
    }
  }

  /** One WebSocket connection, until it closes; whether it opened at all. */
  private serve(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const engine = this.engine;
      let opened = false;
      const socket = openSocket(this.url, this.options.WebSocket, {
        onOpen: () => {
          opened = true;
          engine.connectionMade(performance.now());
          this.kick();
          this.ticker = setInterval(() => this.tick(socket), this.tickInterval());
        },
        onMessage: (frame) => {
          engine.receive(frame, performance.now());
          if (engine.online && !this.isOnline) {
            this.connections += 1;
            this.setOnline(true);
          }
          if (engine.hasDataToSend || engine.closing) this.kick();
          this.progress();
        },
        onText: () => socket.close(1003, "binary frames only"),
        onClose: () => {
          if (this.ticker !== null) clearInterval(this.ticker);
          this.ticker = null;
          resolve(opened);
        },
      });
      this.socket = socket;
      if (this.closed) socket.close(1000, "client closed");
    });
  }

  private tickInterval(): number {
    const e = this.engine;
    return Math.min(e.pingIntervalMs / 4, e.responseTimeoutMs / 4, 1000);
  }

  private tick(socket: SocketLike): void {
    const engine = this.engine;
    if (engine.reauthDue(Date.now()) && typeof this.tokenSource !== "string") {
      this.freshToken().then(() => {
        engine.reauthenticate(engine.token);
        this.kick();
      }, (exc) => this.tokenFailed(exc));
    }
    if (!engine.tick(performance.now())) {
      socket.close(4000, "no answer from the server");
      return;
    }
    this.kick();
  }

  // -- HTTP ------------------------------------------------------------------------------

  private fetcher(): typeof fetch {
    const f = this.options.fetch ?? globalThis.fetch;
    if (f === undefined) throw new InvalidValueError("no fetch function: pass options.fetch");
    return f;
  }

  /** Aborted by a timeout or by {@link close}. */
  private requestSignal(): AbortSignal {
    return AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.options.responseTimeoutMs ?? 20_000)]);
  }

  /** Whether the server answers HTTP at all (any status): the WebSocket upgrade is refused. */
  private async httpReachable(): Promise<boolean> {
    try {
      const probe = httpSyncUrl(this.baseUrl, this.engine.docIds[0] ?? "probe");
      await this.fetcher()(probe, { method: "GET", signal: this.requestSignal() });
      return true;
    } catch {
      return false;
    }
  }

  /** Sync every open document over HTTP until `deadline` (Date.now() ms) or close. */
  private async poll(deadline: number): Promise<void> {
    const base = this.options.backoffBaseMs ?? 50;
    const cap = this.options.backoffMaxMs ?? 5000;
    const random = this.options.random ?? Math.random;
    let failures = 0;
    this.active = "http";
    try {
      while (!this.closed && Date.now() < deadline) {
        if (this.engine.terminalError !== null) {
          this.setOnline(false);
          await this.sleep(2 ** 31 - 1);
          continue;
        }
        let reached: boolean | null;
        try {
          await this.freshToken();
          reached = await this.pollRound();
        } catch (exc) {
          this.tokenFailed(exc);
          reached = false;
        }
        if (reached === false) {
          this.setOnline(false);
          await this.sleep(backoffDelay(failures, base, cap, random));
          failures += 1;
          continue;
        }
        if (reached) failures = 0;
        await this.sleep(Math.min(this.options.pollIntervalMs ?? 1000, deadline - Date.now()));
      }
    } finally {
      if (this.options.transport !== "http") this.active = "websocket";
    }
  }

  /** Each open document once: true when the server answered, false when not, null: none open. */
  private async pollRound(): Promise<boolean | null> {
    const docIds = this.engine.docIds;
    if (!docIds.length) return null;
    const results = await Promise.all(docIds.map((d) => this.syncOverHttp(d)));
    return results.some((r) => r);
  }

  private async syncOverHttp(docId: string): Promise<boolean> {
    const engine = this.engine;
    const url = httpSyncUrl(this.baseUrl, docId);
    for (let i = 0; i < REQUESTS_PER_ROUND; i++) {
      if (engine.document(docId) === undefined) return true; // closed meanwhile
      await this.writes; // edits are stored before they are sent
      const body = engine.httpRequest(docId);
      let response: Response;
      let answer: Uint8Array;
      try {
        response = await this.fetcher()(url, {
          method: "POST",
          body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
          headers: { "content-type": HTTP_MEDIA_TYPE, accept: HTTP_MEDIA_TYPE },
          signal: this.requestSignal(),
        });
        answer = new Uint8Array(await response.arrayBuffer());
      } catch (exc) {
        engine.httpFailed(docId, `HTTP sync of '${docId}' failed: ${String(exc)}`);
        return false;
      }
      const outcome = engine.receiveHttp(docId, response.status === 200, answer,
        response.headers.get("content-type") ?? "");
      if (outcome !== "unreachable" && engine.terminalError === null && !this.isOnline) {
        this.connections += 1;
        this.setOnline(true);
      }
      this.progress();
      if (outcome !== "again") return outcome !== "unreachable";
    }
    return true;
  }
}
