/**
 * The one error tree of SyncKit, mirroring `synckit.errors` in the Python package.
 *
 * Every error SyncKit throws on purpose derives from {@link SyncKitError}. Bytes given to
 * `apply`, `load` or a `decode` that are corrupt, truncated or hostile throw
 * {@link DecodeError} and change nothing.
 */

/** Base class of every error SyncKit throws on purpose. */
export class SyncKitError extends Error {
  /** @param message - what went wrong. */
  constructor(message?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bytes could not be decoded; the message says what was wrong. Nothing was changed. */
export class DecodeError extends SyncKitError {}

/** The bytes declare a format version this release cannot read. */
export class UnsupportedFormatError extends DecodeError {}

/** A sync session received or was asked to send something illegal in its state. */
export class ProtocolError extends SyncKitError {}

/** This side misused the session. */
export class LocalProtocolError extends ProtocolError {}

/** The peer sent something malformed or illegal for the session's state. */
export class RemoteProtocolError extends ProtocolError {}

/** A frame, a document or a send queue exceeded its configured limit. */
export class LimitExceededError extends SyncKitError {}

/** Authentication failed: the token was missing, malformed, expired or refused. */
export class AuthError extends SyncKitError {}

/** The token cannot be checked right now: try again shortly. */
export class AuthUnavailableError extends AuthError {}

/** The token expired (or is not valid yet). */
export class TokenExpiredError extends AuthError {}

/** The client is known, but may not read or write this document. */
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
/** Two different operations arrived under one client id and sequence number. */
export class EquivocationError extends SyncKitError {}

/** A storage backend failed, or what it holds is inconsistent. */
export class StorageError extends SyncKitError {}

/** A wait for a sync condition did not complete in time. */
export class SyncTimeoutError extends SyncKitError {}

/** An argument has an acceptable type but a bad value (Python: also `ValueError`). */
export class InvalidValueError extends SyncKitError {}

/** An argument has the wrong type (Python: also `TypeError`). */
export class InvalidTypeError extends SyncKitError {}

/** A position lies outside the text or list (Python: also `IndexError`). */
export class PositionError extends SyncKitError {}

/** What was to be removed is not there (Python: also `KeyError`). */
export class NotFoundError extends SyncKitError {}
