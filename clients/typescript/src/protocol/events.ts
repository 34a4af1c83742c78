/**
 * The messages of the sync protocol as plain values (a port of `synckit.protocol._events`).
 *
 * One object type per protocol message, told apart by `type`. {@link checkEvent} checks the
 * fields as the Python dataclasses do when built; frames ({@link ./frames.ts}) turn events
 * into bytes and back. Change payloads and version vectors stay opaque bytes: the session
 * layer never decodes a document. 64-bit fields are numbers (at most 2^53 - 1).
 *
 * @module
 */
import {
  AuthError,
  DocumentDeletedError,
  EquivocationError,
  InvalidTypeError,
  InvalidValueError,
  LimitExceededError,
  PermissionDeniedError,
  ProtocolError,
  SyncKitError,
  TokenExpiredError,
} from "../errors.js";
import { ErrorCode } from "../gen/synckit/v1/protocol.js";

export { ErrorCode };

/** The protocol revision this client speaks; a peer with another one is refused. */
export const PROTOCOL_VERSION = 1;

/** The longest document id. */
export const MAX_DOC_ID_LENGTH = 128;

/** The capability (in `Hello` and `Welcome`) of a peer that speaks presence. */
export const PRESENCE = "presence";

/**
 * The capability (in `Welcome`) of a server that takes {@link DeleteDoc}: a client sends it
 * only to such a server.
 */
export const DELETE = "delete";

/**
 * The capability (in `Hello` and `Welcome`) of peers that send and take the server's version in
 * `Ack` and `Broadcast` as what grew: when both advertised it, each of those `serverVersion`
 * fields holds only the entries that grew since the last server version sent on the connection
 * for the document (`Subscribed` always holds the whole), and the client merges them into what
 * it knows. See docs/protocol.md, "Version deltas".
 */
export const VERSION_DELTAS = "version-deltas";

/** Errors about one document's presence state: they do not end its subscription. */
export const PRESENCE_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.PRESENCE_TOO_LARGE,
  ErrorCode.BAD_PRESENCE,
]);

const DOC_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * Why `docId` is not a valid document id, or `null` when it is: 1 to 128 characters of ASCII
 * letters, digits and `._:-`, starting with a letter or a digit.
 */
export function checkDocId(docId: unknown): string | null {
  if (typeof docId !== "string") return `document id must be a string, got ${typeof docId}`;
  if (!docId) return "document id must not be empty";
  if (docId.length > MAX_DOC_ID_LENGTH) {
    return `document id is ${docId.length} characters long (at most ${MAX_DOC_ID_LENGTH})`;
  }
  if (!DOC_ID.test(docId)) {
    return (
      `document id ${JSON.stringify(docId.slice(0, 40))} may only hold ASCII letters, digits ` +
      "and '._:-' and must start with a letter or digit"
    );
  }
  return null;
}

/** Client → server, the first frame (or, when open, a re-authentication with a fresh token). */
export interface Hello {
  readonly type: "hello";
  readonly clientId: string;
  readonly token: string;
  readonly capabilities: readonly string[];
  readonly protocolVersion: number;
}

/** Server → client: the Hello is accepted. `tokenExpiresMs`: Unix ms (0: never). */
export interface Welcome {
  readonly type: "welcome";
  readonly capabilities: readonly string[];
  readonly maxFrameBytes: number;
  readonly protocolVersion: number;
  readonly tokenExpiresMs: number;
  readonly principal: string;
  readonly maxPresenceBytes: number;
  readonly presenceTimeoutMs: number;
  /** The most operations one push may hold (0: not said); a larger backlog goes in parts. */
  readonly maxPushOps: number;
}

/** Client → server: sync `docId` from the client's encoded version vector. */
export interface Subscribe {
  readonly type: "subscribe";
  readonly docId: string;
  readonly version: Uint8Array;
}

/** Server → client, answers a Subscribe: what the client lacks and the server's version. */
export interface Subscribed {
  readonly type: "subscribed";
  readonly docId: string;
  readonly changes: Uint8Array;
  readonly serverVersion: Uint8Array;
}

/** Client → server: changes for `docId`, acknowledged by an {@link Ack} of `batchId`. */
export interface Push {
  readonly type: "push";
  readonly docId: string;
  readonly batchId: number;
  readonly changes: Uint8Array;
}

/** Server → client: push `batchId` is committed; the server now holds `serverVersion`. */
export interface Ack {
  readonly type: "ack";
  readonly docId: string;
  readonly batchId: number;
  readonly serverVersion: Uint8Array;
}

/** Server → client: changes others committed to `docId`. */
export interface Broadcast {
  readonly type: "broadcast";
  readonly docId: string;
  readonly changes: Uint8Array;
  readonly serverVersion: Uint8Array;
}

/** Client → server: stop syncing `docId` (no answer). */
export interface Unsubscribe {
  readonly type: "unsubscribe";
  readonly docId: string;
}

/** Client → server: the client's presence in `docId`, a JSON object as UTF-8 (empty: clear). */
export interface PresenceSet {
  readonly type: "presenceSet";
  readonly docId: string;
  readonly state: Uint8Array;
}

/** One other connection's presence, as the server passes it on. */
export interface PresenceEntry {
  /** The server-assigned identity of the connection (never chosen by a client). */
  readonly key: string;
  readonly principal: string;
  readonly clientId: string;
  /** A JSON object as UTF-8; empty when `removed`. */
  readonly state: Uint8Array;
  readonly removed: boolean;
}

/** Server → client: presence entries of other connections in `docId`. */
export interface Presence {
  readonly type: "presence";
  readonly docId: string;
  readonly entries: readonly PresenceEntry[];
}

/**
 * Client → server, only to a server that advertised {@link DELETE}: delete `docId` for
 * everyone, for good (admin access needed; it need not be subscribed). Answered by
 * {@link DocDeleted} or by an {@link ErrorEvent} carrying `requestId` (at least 1, increasing
 * per connection).
 */
export interface DeleteDoc {
  readonly type: "deleteDoc";
  readonly docId: string;
  readonly requestId: number;
}

/**
 * Server → client, answers {@link DeleteDoc} `requestId`: `docId` is deleted (its tombstone
 * committed, its data removed), now or before.
 */
export interface DocDeleted {
  readonly type: "docDeleted";
  readonly docId: string;
  readonly requestId: number;
}

/** Either side; a session answers it with a {@link Pong} of the same nonce by itself. */
export interface Ping {
  readonly type: "ping";
  readonly nonce: number;
}

/** The answer to a {@link Ping}. */
export interface Pong {
  readonly type: "pong";
  readonly nonce: number;
}

/**
 * Either side: something went wrong. `fatal`: the sender closes the connection after it;
 * `retryable`: the same request may succeed later; `docId`/`batchId` (non-empty / non-zero):
 * the document or push it concerns; `retryAfterMs`: when retrying makes sense (0: no advice);
 * `requestId` (non-zero): the error answers the {@link DeleteDoc} of that request id (it then
 * ends no subscription).
 */
export interface ErrorEvent {
  readonly type: "error";
  readonly code: ErrorCode;
  readonly message: string;
  readonly retryable: boolean;
  readonly fatal: boolean;
  readonly docId: string;
  readonly batchId: number;
  readonly retryAfterMs: number;
  readonly requestId: number;
}

/** Every protocol message. */
export type Event =
  | Hello
  | Welcome
  | Subscribe
  | Subscribed
  | Push
  | Ack
  | Broadcast
  | Unsubscribe
  | PresenceSet
  | Presence
  | DeleteDoc
  | DocDeleted
  | Ping
  | Pong
  | ErrorEvent;

/** The name of each message type as the protocol documents it ("Push", "PresenceSet"). */
export const MESSAGE_NAMES: Readonly<Record<Event["type"], string>> = {
  hello: "Hello",
  welcome: "Welcome",
  subscribe: "Subscribe",
  subscribed: "Subscribed",
  push: "Push",
  ack: "Ack",
  broadcast: "Broadcast",
  unsubscribe: "Unsubscribe",
  presenceSet: "PresenceSet",
  presence: "Presence",
  deleteDoc: "DeleteDoc",
  docDeleted: "DocDeleted",
  ping: "Ping",
  pong: "Pong",
  error: "Error",
};

/** Build a {@link Hello}; see {@link checkEvent} for what is checked when sent. */
export function hello(clientId: string, token = "", capabilities: readonly string[] = [],
  protocolVersion = PROTOCOL_VERSION): Hello {
  return { type: "hello", clientId, token, capabilities, protocolVersion };
}

/** Build a {@link Welcome} (fields not given are 0 / empty). */
export function welcome(fields: Partial<Omit<Welcome, "type">> = {}): Welcome {
  return {
    type: "welcome",
    capabilities: [],
    maxFrameBytes: 0,
    protocolVersion: PROTOCOL_VERSION,
    tokenExpiresMs: 0,
    principal: "",
    maxPresenceBytes: 0,
    presenceTimeoutMs: 0,
    maxPushOps: 0,
    ...fields,
  };
}

/** Build a {@link DeleteDoc}; see {@link checkEvent} for what is checked when sent. */
export function deleteDoc(docId: string, requestId: number): DeleteDoc {
  return { type: "deleteDoc", docId, requestId };
}

/** Build a {@link DocDeleted}; see {@link checkEvent} for what is checked when sent. */
export function docDeleted(docId: string, requestId: number): DocDeleted {
  return { type: "docDeleted", docId, requestId };
}

/** Build an {@link ErrorEvent} (fields not given are false / empty / 0). */
export function errorEvent(
  code: ErrorCode,
  message: string,
  fields: Partial<Omit<ErrorEvent, "type" | "code" | "message">> = {},
): ErrorEvent {
  return {
    type: "error",
    code,
    message,
    retryable: false,
    fatal: false,
    docId: "",
    batchId: 0,
    retryAfterMs: 0,
    requestId: 0,
    ...fields,
  };
}

function u64(name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidValueError(`${name} must be an integer in [0, 2**53), got ${String(value)}`);
  }
}

function bytes(name: string, value: unknown): void {
  if (!(value instanceof Uint8Array)) throw new InvalidTypeError(`${name} must be a Uint8Array`);
}

function str(name: string, value: unknown): void {
  if (typeof value !== "string") throw new InvalidTypeError(`${name} must be a string`);
}

function doc(value: unknown): void {
  const problem = checkDocId(value);
  if (problem !== null) throw new InvalidValueError(problem);
}

/**
 * Check an event's fields as the Python dataclasses check theirs when built.
 *
 * @throws InvalidValueError, InvalidTypeError: a field is out of range or of the wrong type.
 */
export function checkEvent(event: Event): void {
  const name = MESSAGE_NAMES[event.type];
  if (name === undefined) throw new InvalidTypeError(`not a protocol event: ${String(event.type)}`);
  switch (event.type) {
    case "hello":
      if (typeof event.clientId !== "string" || !event.clientId) {
        throw new InvalidValueError("Hello.clientId must be a non-empty string");
      }
      if (event.clientId.length > 256) {
        throw new InvalidValueError("Hello.clientId is longer than 256 characters");
      }
      str("Hello.token", event.token);
      u64("Hello.protocolVersion", event.protocolVersion);
      return;
    case "welcome":
      u64("Welcome.maxFrameBytes", event.maxFrameBytes);
      u64("Welcome.protocolVersion", event.protocolVersion);
      u64("Welcome.tokenExpiresMs", event.tokenExpiresMs);
      u64("Welcome.maxPresenceBytes", event.maxPresenceBytes);
      u64("Welcome.presenceTimeoutMs", event.presenceTimeoutMs);
      u64("Welcome.maxPushOps", event.maxPushOps);
      str("Welcome.principal", event.principal);
      return;
    case "subscribe":
      doc(event.docId);
      bytes("Subscribe.version", event.version);
      return;
    case "subscribed":
    case "broadcast":
      doc(event.docId);
      bytes(`${name}.changes`, event.changes);
      bytes(`${name}.serverVersion`, event.serverVersion);
      return;
    case "push":
      doc(event.docId);
      u64("Push.batchId", event.batchId);
      if (event.batchId === 0) throw new InvalidValueError("Push.batchId must be at least 1");
      bytes("Push.changes", event.changes);
      return;
    case "ack":
      doc(event.docId);
      u64("Ack.batchId", event.batchId);
      bytes("Ack.serverVersion", event.serverVersion);
      return;
    case "unsubscribe":
      doc(event.docId);
      return;
    case "presenceSet":
      doc(event.docId);
      bytes("PresenceSet.state", event.state);
      return;
    case "presence":
      doc(event.docId);
      if (!Array.isArray(event.entries)) {
        throw new InvalidTypeError("Presence.entries must be an array");
      }
      for (const entry of event.entries) {
        str("PresenceEntry.key", entry.key);
        str("PresenceEntry.principal", entry.principal);
        str("PresenceEntry.clientId", entry.clientId);
        if (!entry.key) throw new InvalidValueError("PresenceEntry.key must not be empty");
        bytes("PresenceEntry.state", entry.state);
      }
      return;
    case "deleteDoc":
      doc(event.docId);
      u64("DeleteDoc.requestId", event.requestId);
      if (event.requestId === 0) throw new InvalidValueError("DeleteDoc.requestId must be at least 1");
      return;
    case "docDeleted":
      doc(event.docId);
      u64("DocDeleted.requestId", event.requestId);
      return;
    case "ping":
    case "pong":
      u64(`${name}.nonce`, event.nonce);
      return;
    case "error":
      if (typeof event.code !== "number") throw new InvalidTypeError("Error.code must be an ErrorCode");
      str("Error.message", event.message);
      u64("Error.batchId", event.batchId);
      u64("Error.retryAfterMs", event.retryAfterMs);
      u64("Error.requestId", event.requestId);
      return;
  }
}

/** The name of an error code ("PERMISSION_DENIED"), or its number when unknown. */
export function errorCodeName(code: ErrorCode): string {
  return ErrorCode[code] ?? String(code);
}

/**
 * The exception that reports `error` to an application: {@link AuthError},
 * {@link TokenExpiredError}, {@link PermissionDeniedError}, {@link LimitExceededError},
 * {@link EquivocationError}, {@link DocumentDeletedError} (naming the document), or
 * {@link ProtocolError} for the rest; the message names the code.
 */
export function errorToException(error: ErrorEvent): SyncKitError {
  const text = `${errorCodeName(error.code)}: ${error.message}`;
  switch (error.code) {
    case ErrorCode.AUTH_FAILED:
      return new AuthError(text);
    case ErrorCode.TOKEN_EXPIRED:
      return new TokenExpiredError(text);
    case ErrorCode.PERMISSION_DENIED:
    case ErrorCode.PERMISSION_CHANGED:
    case ErrorCode.NOT_AUTHOR:
      return new PermissionDeniedError(text);
    case ErrorCode.DOC_TOO_LARGE:
    case ErrorCode.FRAME_TOO_LARGE:
    case ErrorCode.RATE_LIMITED:
    case ErrorCode.TOO_MANY:
    case ErrorCode.CLOCK_SKEW:
    case ErrorCode.PRESENCE_TOO_LARGE:
      return new LimitExceededError(text);
    case ErrorCode.EQUIVOCATION:
      return new EquivocationError(text);
    case ErrorCode.DOC_DELETED:
      return new DocumentDeletedError(text, error.docId);
    default:
      return new ProtocolError(text);
  }
}
