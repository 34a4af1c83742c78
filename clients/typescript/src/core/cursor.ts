/**
 * Cursors: places in a list (or text) that move with the items around them (Python:
 * `_cursor.py`).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DecodeError, InvalidTypeError } from "../errors.js";
import { CursorSchema, Cursor_Bind } from "../gen/synckit/v1/changes_pb.js";

/** Which item a cursor is bound to: the one after it, or the one before it. */
export type Bind = "next" | "previous";

const MAX_CURSOR_BYTES = 64 * 1024;

/** A place in the list or text `text` of a document, bound to an item (or character). */
export class Cursor {
  /**
   * @param text - the name (label) of the list or text.
   * @param client - the client id of the item's writer; null for the end or the start.
   * @param seq - the item's seq (0 when `client` is null).
   * @param bind - `"next"`: right before the item; `"previous"`: right after it.
   */
  constructor(readonly text: string, readonly client: string | null, readonly seq: number, readonly bind: Bind = "next") {}

  /** These fields as a JSON object. */
  toJSON(): { text: string; client: string | null; seq: number; bind: Bind } {
    return { text: this.text, client: this.client, seq: this.seq, bind: this.bind };
  }

  /** The cursor {@link toJSON} made; {@link DecodeError} if `value` is not one. */
  static fromJSON(value: unknown): Cursor {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new DecodeError("cursor: expected a JSON object");
    const keys = Object.keys(value).sort();
    if (keys.join(",") !== "bind,client,seq,text") throw new DecodeError(`cursor: expected the keys text, client, seq and bind, got ${keys.join(", ")}`);
    const { text, client, seq, bind } = value as Record<string, unknown>;
    if (typeof text !== "string" || !text) throw new DecodeError("cursor: text must be a non-empty string");
    if (client !== null && (typeof client !== "string" || !client)) throw new DecodeError("cursor: client must be a non-empty string or null");
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || !(client !== null ? seq >= 1 : seq === 0)) {
      throw new DecodeError("cursor: seq must be an int >= 1 with a client, 0 without");
    }
    if (bind !== "next" && bind !== "previous") throw new DecodeError(`cursor: unknown bind ${String(bind)}`);
    return new Cursor(text, client, seq, bind);
  }

  /** These fields as protobuf `synckit.v1.Cursor` bytes. */
  encode(): Uint8Array {
    return toBinary(CursorSchema, create(CursorSchema, {
      text: this.text,
      client: this.client ?? "",
      seq: BigInt(this.seq),
      bind: this.bind === "previous" ? Cursor_Bind.PREVIOUS : Cursor_Bind.NEXT,
    }));
  }

  /** The cursor {@link encode} wrote; {@link DecodeError} if the bytes are not one. */
  static decode(data: Uint8Array): Cursor {
    if (!(data instanceof Uint8Array)) throw new InvalidTypeError("Cursor.decode takes a Uint8Array");
    if (data.length > MAX_CURSOR_BYTES) throw new DecodeError(`cursor: ${data.length} bytes is over the ${MAX_CURSOR_BYTES} limit`);
    let msg;
    try {
      msg = fromBinary(CursorSchema, data);
    } catch (exc) {
      throw new DecodeError(`cursor: not a synckit.v1.Cursor message (${(exc as Error).message})`);
    }
    if (msg.bind !== Cursor_Bind.NEXT && msg.bind !== Cursor_Bind.PREVIOUS) throw new DecodeError(`cursor: unknown bind ${msg.bind}`);
    if (!msg.text) throw new DecodeError("cursor: no text name");
    if (msg.client && msg.seq < 1n) throw new DecodeError("cursor: a character seq below 1");
    if (!msg.client && msg.seq) throw new DecodeError("cursor: a character seq without its client");
    if (msg.seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`cursor: seq ${msg.seq} is out of range`);
    return new Cursor(msg.text, msg.client || null, Number(msg.seq), msg.bind === Cursor_Bind.PREVIOUS ? "previous" : "next");
  }
}
