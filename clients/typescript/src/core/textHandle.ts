/**
 * The text container's handle: what applications use to read and edit a collaborative text
 * (Python: `_text/_handle.py`). The text's state is a {@link TextState} per name; positions
 * count Unicode code points, like Python `str` indexes.
 */
import { InvalidTypeError, PositionError } from "../errors.js";
import { textCursor, textPosition, type Bind, type Cursor } from "./cursor.js";
import type { Document } from "./document.js";
import { TextEdit } from "./events.js";
import { ckey, type ContainerId, type ItemId } from "./ids.js";
import { cpLength, pathRefs } from "./ops.js";
import type { TextState } from "./text/index.js";
import { checkText } from "./values.js";
import { labelOf } from "./views.js";

/** Collaborative text; positions count Unicode code points. */
export class Text {
  /** @internal */
  constructor(private readonly doc: Document, private readonly name: ContainerId) {}

  private state(): TextState | null {
    return this.doc._texts.get(ckey(this.name)) ?? null;
  }

  /** The text. */
  toString(): string {
    return this.state()?.toString() ?? "";
  }

  /** The text (for `JSON.stringify`). */
  toJSON(): string {
    return this.toString();
  }

  /** Its length in code points. */
  get length(): number {
    return this.state()?.length ?? 0;
  }

  private label(): string {
    return typeof this.name === "string" ? this.name : labelOf(this.doc, this.name);
  }

  /** A cursor at `pos` (0 <= pos <= length) that moves with the text. */
  cursor(pos: number, bind: Bind = "next"): Cursor {
    return textCursor(this.state(), this.doc._clients, this.label(), pos, bind);
  }

  /** Where `cursor` is now (a position), or null when this replica lacks its character. */
  position(cursor: Cursor): number | null {
    return textPosition(this.state(), this.doc._clientIndex, this.label(), cursor);
  }

  /** Insert `s` at code point `pos` (0 <= pos <= length); {@link PositionError} otherwise. */
  insert(pos: number, s: string): void {
    if (!Number.isInteger(pos)) throw new InvalidTypeError(`text positions must be int, got ${typeof pos}`);
    if (typeof s !== "string") throw new InvalidTypeError(`text inserts take strings, got ${typeof s}`);
    checkText(s, "inserted text");
    const doc = this.doc;
    let state = this.state();
    const length = state?.length ?? 0;
    if (!(0 <= pos && pos <= length)) throw new PositionError(`text position ${pos} out of range for length ${length}`);
    if (!s) return;
    if (state === null) {
      doc._checkKind(this.name, "text");
      state = doc._textState(this.name);
    }
    const seq = doc._nextSeq();
    const me = doc._me;
    const [left, right] = state.localInsert(me, seq, pos, s);
    // Typing on (right after the writer's previous character) refers to what its previous
    // insert did: its dependencies name all that unless a checkpoint starts here.
    const cps = doc._checkpoints[me]!;
    if (left === null || left[0] !== me || left[1] !== seq - 1 || cps[cps.length - 1]?.[0] === seq) {
      const refs: ItemId[] = [];
      if (left !== null) refs.push(left);
      if (right !== null) refs.push(right);
      doc._cover(seq, pathRefs(this.name, refs));
    }
    doc._vv[doc._me] = seq + cpLength(s) - 1;
    if (doc._subscribers.length) doc._emit(true, [this.name], new Map([[ckey(this.name), [new TextEdit(pos, 0, s)]]]));
  }

  /** Delete `length` code points from `pos`; {@link PositionError} if not all inside. */
  delete(pos: number, length: number): void {
    if (!Number.isInteger(pos) || !Number.isInteger(length)) throw new InvalidTypeError("text delete takes integer position and length");
    const doc = this.doc;
    const state = this.state();
    const size = state?.length ?? 0;
    if (length < 0 || !(0 <= pos && pos <= size) || pos + length > size) {
      throw new PositionError(`text range ${pos}..${pos + length} out of range for length ${size}`);
    }
    if (length === 0 || state === null) return;
    const seq = doc._nextSeq();
    const runs = state.localDelete(doc._me, seq, pos, length);
    doc._cover(seq, pathRefs(this.name, runs.map(([c, first, count]): ItemId => [c, first + count - 1])));
    doc._vv[doc._me] = seq + length - 1;
    if (doc._subscribers.length) doc._emit(true, [this.name], new Map([[ckey(this.name), [new TextEdit(pos, length, "")]]]));
  }
}
