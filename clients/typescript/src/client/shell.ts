/**
 * What the parts of the client share (internal): the engine, the options, the store's write
 * queue, the online status and the callbacks told of it, the progress signal that waiting
 * callers sleep on, the loop's interruptible sleep, and the token source. The transports
 * (`connection.ts`, `http-poll.ts`) and the public API (`client.ts`) act through one
 * {@link ClientShell}; it opens no connection itself.
 *
 * @module
 */
import { InvalidTypeError, InvalidValueError } from "../errors.js";
import { ErrorCode, errorEvent } from "../protocol/events.js";
import { SyncEngine } from "./engine.js";
import type { ClientOptions, TokenSource } from "./options.js";
import type { OfflineStore } from "./store.js";
import { syncUrl } from "./url.js";
import { WriteQueue } from "./writes.js";

/** A set of callbacks, each called once per {@link Listeners.emit}. */
export class Listeners<A extends unknown[]> {
  private readonly callbacks = new Set<(...args: A) => void>();

  /** Add `callback`; returns an unsubscribe. */
  add(callback: (...args: A) => void): () => void {
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }

  /** Call every callback added before the call (one removed meanwhile still is). */
  emit(...args: A): void {
    for (const cb of [...this.callbacks]) cb(...args);
  }
}

/** The client's shared state (see the module comment). */
export class ClientShell {
  /** The WebSocket URL of the sync endpoint. */
  readonly url: string;
  /** The engine (sans-IO state of every document). */
  readonly engine: SyncEngine;
  /** The options, `transport` resolved. */
  readonly options: ClientOptions & { transport: "websocket" | "http" | "auto" };
  /** The store's write queue. */
  readonly writes: WriteQueue;
  /** Told of store failures and of errors of the loop. */
  readonly errors = new Listeners<[unknown]>();
  /** Told of every change of {@link online}. */
  readonly status = new Listeners<[boolean]>();
  /** Aborted by the client's close (in-flight HTTP requests listen to it). */
  readonly stopping = new AbortController();
  /** The transport in use or being tried now. */
  active: "websocket" | "http";
  /** Connected and welcomed (over HTTP: the last round reached the server). */
  online = false;
  /** The client was closed. */
  closed = false;
  /** Successful handshakes so far (over HTTP: times polling reached the server again). */
  connections = 0;
  private readonly tokenSource: TokenSource;
  private waiters: (() => void)[] = [];
  private wakeSleep: (() => void) | null = null;

  /** @throws InvalidValueError: a bad URL or `transport`. */
  constructor(readonly baseUrl: string, actorId: string, store: OfflineStore, options: ClientOptions) {
    this.url = syncUrl(baseUrl);
    const transport = options.transport ?? "auto";
    if (!["websocket", "http", "auto"].includes(transport)) {
      throw new InvalidValueError(`transport must be websocket, http or auto, got ${transport}`);
    }
    this.options = { ...options, transport };
    this.tokenSource = options.getToken ?? options.token ?? "";
    this.active = transport === "http" ? "http" : "websocket";
    this.writes = new WriteQueue(store, (exc) => this.reportError(exc));
    this.engine = new SyncEngine(actorId, {
      token: typeof this.tokenSource === "string" ? this.tokenSource : "",
      tokenRenewable: typeof this.tokenSource !== "string",
      ...(options.responseTimeoutMs === undefined ? {} : { responseTimeoutMs: options.responseTimeoutMs }),
      ...(options.pingIntervalMs === undefined ? {} : { pingIntervalMs: options.pingIntervalMs }),
    });
  }

  // -- progress ----------------------------------------------------------------------------

  /** Resolve on the next {@link progress}, or after `ms`. */
  nextProgress(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === Infinity ? null : setTimeout(resolve, ms);
      this.waiters.push(() => {
        if (timer !== null) clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Something a waiter may be waiting for happened: wake them all. */
  progress(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Set {@link online}; on a change, wake the waiters and tell the status callbacks. */
  setOnline(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    this.progress();
    this.status.emit(online);
  }

  /** Tell the error callbacks. */
  reportError(error: unknown): void {
    this.errors.emit(error);
  }

  // -- the loop's sleep ---------------------------------------------------------------------

  /** Sleep `ms`, or until {@link wake}; at once when closed. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() { clearTimeout(timer); resolve(); }
      this.wakeSleep = done;
    });
  }

  /** End the current {@link sleep} now. */
  wake(): void {
    this.wakeSleep?.();
  }

  // -- tokens -------------------------------------------------------------------------------

  /** Whether the token comes from a callback (and can be renewed). */
  get renewableToken(): boolean {
    return typeof this.tokenSource !== "string";
  }

  /**
   * Ask the token callback (if any) and give the engine its answer.
   *
   * @throws InvalidTypeError: the callback returned no string; or what the callback threw.
   */
  async freshToken(): Promise<void> {
    const source = this.tokenSource;
    if (typeof source === "string") return;
    const token = await source();
    if (typeof token !== "string") throw new InvalidTypeError(`the token callback returned ${typeof token}, not a string`);
    this.engine.token = token;
  }

  /** The token callback failed with `exc`: record it as the engine's last error and report it. */
  tokenFailed(exc: unknown): void {
    this.engine.lastError = errorEvent(ErrorCode.AUTH_FAILED, `the token callback failed: ${String(exc)}`);
    this.reportError(exc);
  }
}
