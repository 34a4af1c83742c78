/**
 * The options and callback types of {@link connect} and {@link SyncClient} (the public
 * configuration surface of the client, without behaviour).
 *
 * @module
 */
import type { ErrorEvent } from "../protocol/events.js";
import type { OfflineStore } from "./store.js";
import type { WebSocketConstructor } from "./socket.js";

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
