/**
 * The error tree of SyncKit's TypeScript client, mirroring the names of `synckit.errors`
 * (Python) that the client needs:
 *
 * ```
 * SyncKitError
 * ├── ProtocolError          a sync session saw something illegal
 * │   ├── LocalProtocolError     we misused the session (our bug)
 * │   └── RemoteProtocolError    the peer sent something illegal
 * ├── LimitExceededError     a frame, document or state grew past a limit
 * ├── AuthError              a token was missing, malformed, expired or refused
 * │   └── TokenExpiredError      the token expired: get a fresh one
 * ├── PermissionDeniedError  the principal may not do this (read, write, write under that id)
 * ├── DocumentDeletedError   the document was deleted for everyone; its id is never usable again
 * ├── EquivocationError      two different operations under one client id and seq
 * ├── StorageError           an offline store failed
 * ├── SyncTimeoutError       a wait ran out of time
 * ├── InvalidValueError      an argument has the right type but a bad value
 * └── InvalidTypeError       an argument has the wrong type
 * ```
 *
 * @module
 */

/** Base class of every error SyncKit throws on purpose. */
export class SyncKitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A sync session saw something illegal. */
export class ProtocolError extends SyncKitError {}

/** We misused a session (sent a message not allowed now): a bug on this side. */
export class LocalProtocolError extends ProtocolError {}

/** The peer sent something illegal (its bug, or bad bytes on the way). */
export class RemoteProtocolError extends ProtocolError {}

/** A frame, document, presence state or queue grew past its configured limit. */
export class LimitExceededError extends SyncKitError {}

/** A token was missing, malformed, expired or refused. */
export class AuthError extends SyncKitError {}

/** The token expired: get a fresh one. */
export class TokenExpiredError extends AuthError {}

/** The principal may not do this (read, write, or write under that client id). */
export class PermissionDeniedError extends SyncKitError {}

/**
 * The document was deleted for everyone (by a principal with admin access to it). A deleted
 * id is never usable again: the server keeps a tombstone and refuses every later subscription
 * or push under it, and a client drops its local copy and its unsent edits. `docId` names the
 * document (empty when unknown).
 */
export class DocumentDeletedError extends SyncKitError {
  /** The deleted document's id (empty when unknown). */
  readonly docId: string;

  constructor(message: string, docId = "") {
    super(message);
    this.docId = docId;
  }
}

/** Two different operations were sent under one client id and seq (a rolled-back store). */
export class EquivocationError extends SyncKitError {}

/** An offline store failed or holds inconsistent data. */
export class StorageError extends SyncKitError {}

/** A wait (such as `waitSynced`) ran out of time. */
export class SyncTimeoutError extends SyncKitError {}

/** An argument has the right type but a bad value (a bad URL, document id, limit). */
export class InvalidValueError extends SyncKitError {}

/** An argument has the wrong type. */
export class InvalidTypeError extends SyncKitError {}
