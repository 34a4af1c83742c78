/**
 * Cursors: places in a collaborative text that move with the characters around them
 * (Python: `synckit.core._cursor.Cursor`, and `Text.cursor` / `Text.position` of
 * `synckit.core._text._handle` as {@link textCursor} / {@link textPosition}).
 *
 * A cursor names one *character* by its id `(client id string, seq)`, which never
 * changes; `bind: "next"` binds it to the character at its position (it stays right
 * before it), `"previous"` to the one before (it stays right after it). With no character
 * on its side it is bound to the end (`"next"`) or the start (`"previous"`) of the text:
 * `client` null, `seq` 0.
 *
 * @module
 */

import { Cursor_Bind, decodeCursor, encodeCursor } from "../gen/synckit/v1/changes.js";
import { DecodeError, InvalidTypeError, InvalidValueError, PositionError } from "../errors.js";
import type { TextState } from "./text/index.js";

/** Which character a cursor is bound to: the one after it, or the one before it. */
export type Bind = "next" | "previous";

const MAX_CURSOR_BYTES = 64 * 1024;

/** A place in the collaborative text (or list) `text` of a document, bound to a character. Immutable. */
export class Cursor {
  /**
   * @param text - the name of the text.
   * @param client - the client id of the character's writer; null: bound to the end
   *   (`"next"`) or the start (`"previous"`) of the text.
   * @param seq - the character's seq (0 when `client` is null).
   * @param bind - `"next"`: right before the character; `"previous"`: right after it.
   */
  constructor(
    readonly text: string,
    readonly client: string | null,
    readonly seq: number,
    readonly bind: Bind = "next",
  ) {
    Object.freeze(this);
  }

  /** These fields as a JSON object (Python `to_json`). */
  toJSON(): { text: string; client: string | null; seq: number; bind: Bind } {
    return { text: this.text, client: this.client, seq: this.seq, bind: this.bind };
  }

  /** The cursor {@link Cursor.toJSON} made; DecodeError naming what is wrong (Python `from_json`). */
  static fromJSON(value: unknown): Cursor {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new DecodeError(`cursor: expected a JSON object, got ${value === null ? "null" : Array.isArray(value) ? "list" : typeof value}`);
    }
    const keys = Object.keys(value).sort();
    if (keys.join(",") !== "bind,client,seq,text") {
      throw new DecodeError(`cursor: expected the keys text, client, seq and bind, got ${keys.join(", ")}`);
    }
    const { text, client, seq, bind } = value as Record<string, unknown>;
    if (typeof text !== "string" || !text) throw new DecodeError("cursor: text must be a non-empty string");
    if (client !== null && (typeof client !== "string" || !client)) {
      throw new DecodeError("cursor: client must be a non-empty string or null");
    }
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || !(client !== null ? seq >= 1 : seq === 0)) {
      throw new DecodeError("cursor: seq must be an int >= 1 with a client, 0 without");
    }
    if (bind !== "next" && bind !== "previous") throw new DecodeError(`cursor: unknown bind ${JSON.stringify(bind)}`);
    return new Cursor(text, client, seq, bind);
  }

  /** These fields as protobuf `synckit.v1.Cursor` bytes (Python `encode`). */
  encode(): Uint8Array {
    return encodeCursor({
      text: this.text,
      client: this.client ?? "",
      seq: this.seq,
      bind: this.bind === "previous" ? Cursor_Bind.PREVIOUS : Cursor_Bind.NEXT,
    });
  }

  /**
   * The cursor {@link Cursor.encode} wrote (Python `decode`); DecodeError if the bytes
   * are not such a cursor (corrupt, truncated, an unknown bind, a seq without a writer or
   * a writer without a seq, over 64 KiB, or a seq beyond 2^53).
   */
  static decode(data: Uint8Array): Cursor {
    if (!(data instanceof Uint8Array)) throw new InvalidTypeError(`Cursor.decode takes bytes, got ${typeof data}`);
    if (data.length > MAX_CURSOR_BYTES) {
      throw new DecodeError(`cursor: ${data.length} bytes is over the ${MAX_CURSOR_BYTES} limit`);
    }
    let msg;
    try {
      msg = decodeCursor(data);
    } catch (e) {
      throw new DecodeError(`cursor: not a synckit.v1.Cursor message (${(e as Error).message})`);
    }
    if (msg.bind !== Cursor_Bind.NEXT && msg.bind !== Cursor_Bind.PREVIOUS) {
      throw new DecodeError(`cursor: unknown bind ${msg.bind}`);
    }
    if (!msg.text) throw new DecodeError("cursor: no text name");
    if (msg.client && msg.seq < 1n) throw new DecodeError("cursor: a character seq below 1");
    if (!msg.client && msg.seq) throw new DecodeError("cursor: a character seq without its client");
    if (msg.seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError("cursor: seq out of range");
    return new Cursor(msg.text, msg.client || null, Number(msg.seq), msg.bind === Cursor_Bind.PREVIOUS ? "previous" : "next");
  }
}

/**
 * A cursor at `pos` (0 <= pos <= length) of a text whose state is `state` (null: never
 * written), labelled `label` (Python `Text.cursor`; `clients` is the document's client
 * table). PositionError outside the text, InvalidValueError for a bad bind.
 */
export function textCursor(
  state: TextState | null,
  clients: readonly string[],
  label: string,
  pos: number,
  bind: Bind = "next",
): Cursor {
  if (!Number.isInteger(pos)) throw new InvalidTypeError(`text positions must be int, got ${typeof pos}`);
  if (bind !== "next" && bind !== "previous") {
    throw new InvalidValueError(`bind must be 'next' or 'previous', got ${JSON.stringify(bind)}`);
  }
  const length = state !== null ? state.length : 0;
  if (!(pos >= 0 && pos <= length)) throw new PositionError(`text position ${pos} out of range for length ${length}`);
  const at = bind === "next" ? pos : pos - 1;
  if (state === null || !(at >= 0 && at < length)) return new Cursor(label, null, 0, bind);
  const [client, seq] = state.charId(at);
  return new Cursor(label, clients[client]!, seq, bind);
}

/**
 * Where `cursor` is now in a text whose state is `state` (null: never written): a
 * position (0 <= position <= length), or null when this replica does not hold the
 * cursor's character (Python `Text.position`; `clientIndex` maps the document's client
 * ids to indexes). InvalidValueError if the cursor belongs to another text than `label`.
 */
export function textPosition(
  state: TextState | null,
  clientIndex: ReadonlyMap<string, number>,
  label: string,
  cursor: Cursor,
): number | null {
  if (!(cursor instanceof Cursor)) throw new InvalidTypeError("position takes a Cursor");
  if (cursor.text !== label) {
    throw new InvalidValueError(`the cursor belongs to text ${JSON.stringify(cursor.text)}, not ${JSON.stringify(label)}`);
  }
  if (cursor.client === null) return cursor.bind === "previous" || state === null ? 0 : state.length;
  const client = clientIndex.get(cursor.client);
  if (client === undefined || state === null) return null;
  const found = state.charPosition(client, cursor.seq);
  if (found === null) return null;
  const [before, visible] = found;
  return visible && cursor.bind === "previous" ? before + 1 : before;
}
