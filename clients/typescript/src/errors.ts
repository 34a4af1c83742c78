/**
 * The error tree of SyncKit, as in the Python package (`src/synckit/errors.py`): every
 * error SyncKit throws on purpose derives from {@link SyncKitError}. Only the classes the
 * TypeScript client uses so far are here; each keeps its Python name.
 *
 * ```
 * SyncKitError
 * ├── DecodeError          bytes given to apply/load/decode are corrupt, truncated or hostile
 * ├── InvalidValueError    an argument has the right type but a bad value (Python: also ValueError)
 * ├── InvalidTypeError     an argument has the wrong type (Python: also TypeError)
 * └── PositionError        a position outside a text or list (Python: also IndexError)
 * ```
 *
 * @module
 */

/** Base class of every error SyncKit throws on purpose. */
export class SyncKitError extends Error {
  /** @param message - what went wrong. */
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bytes could not be decoded; the message says what was wrong. Nothing was changed. */
export class DecodeError extends SyncKitError {}

/** An argument has an acceptable type but a bad value; the message names it and the rule. */
export class InvalidValueError extends SyncKitError {}

/** An argument has the wrong type; the message names the argument and the type expected. */
export class InvalidTypeError extends SyncKitError {}

/** A position lies outside the text or list; the message gives the position and the length. */
export class PositionError extends SyncKitError {}
