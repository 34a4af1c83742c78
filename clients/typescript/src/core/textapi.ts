/**
 * What the document uses of a text container's state (the YATA text of `core/text/`,
 * Python's `synckit.core._text.TextState`), so the document compiles on its own.
 */
import type { History } from "./history.js";
import type { ItemId } from "./ids.js";

/** A text operation of a text's history: an insert or a delete run. */
export type TextOp =
  | readonly ["i", number, ItemId | null, ItemId | null, string]
  | readonly ["d", number, number, number, number];

/** The text state methods the document calls (camelCase names of the Python ones). */
export interface TextStateLike {
  /** The visible text. */
  toString(): string;
  /** Client `client`'s operations after seq `after`. */
  opsSince(client: number, after: number): TextOp[];
  /** Whether the character `item` is here (deleted or not). */
  hasItem(item: ItemId): boolean;
  /** Whether the characters of a run are all here. */
  hasRun(client: number, first: number, count: number): boolean;
  /** Whether an insert continues the item the last remote insert made. */
  continuesRemote(client: number, seq: number, left: ItemId | null, right: ItemId | null): boolean;
  /** Integrate a remote insert. */
  applyInsert(client: number, seq: number, left: ItemId | null, right: ItemId | null, content: string, checked?: boolean): unknown;
  /** Integrate a remote delete run. */
  applyDelete(client: number, seq: number, target: number, first: number, count: number, checked?: boolean): unknown;
  /** Start recording visible edits. */
  recordEdits(): void;
  /** The recorded edits `[pos, deleted, inserted]`, and stop recording. */
  takeEdits(): [number, number, string][];
  /** `[ints, content, deletes]`: the encoded state. */
  encodeState(): [number[], string, number[]];
}

/** Makes text states: a new empty one, or one decoded from a snapshot. */
export interface TextStateFactory {
  /** A new, empty text state over the document's client table. */
  create(clients: string[]): TextStateLike;
  /** A text state decoded from a snapshot's columns. */
  decode(clients: string[], ints: number[], content: string, deletes: number[], history: History): TextStateLike;
}

let factory: TextStateFactory | null = null;

/** @internal Install the text implementation. */
export function setTextFactory(f: TextStateFactory): void {
  factory = f;
}

/** @internal The text implementation; throws when none is installed. */
export function textFactory(): TextStateFactory {
  if (factory === null) throw new Error("collaborative text is not available in this build");
  return factory;
}
