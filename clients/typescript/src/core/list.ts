/**
 * The list container: ordered list state, where items are placed by fractional position
 * keys and moved by last writer, and its handle (Python: `_list.py`).
 *
 * Each item is named by the id of the operation that inserted it and sits at a position
 * key; an insert right after the item this replica inserted last extends that item's run.
 * Concurrent moves of one item resolve by last-writer-wins on `(hlc, client id)`; a delete
 * is a tombstone and wins over any move. The visible order is a sorted array of
 * `(key, client id, seq)`.
 */
import { InvalidTypeError, InvalidValueError, PositionError } from "../errors.js";
import { Cursor, type Bind } from "./cursor.js";
import type { Document } from "./document.js";
import { clientTag, keyAfter, operationSuffix } from "./fractional.js";
import { ckey, depthOf, type ContainerId, type ItemId } from "./ids.js";
import { Child, childHandle, MAX_DEPTH, type ChildHandle } from "./child.js";
import { LIST_CREATE, LIST_DELETE, LIST_INSERT, LIST_MOVE, CHILD_KINDS } from "./ops.js";
import { cloneJson, compareStr, copyJson, type JSONValue } from "./values.js";
import { labelOf, render, renderList } from "./views.js";

/** What a list item holds: a JSON value or a nested container. */
export type ItemValue = JSONValue | Child;

/** One item: its value, its position key and who last placed it there. */
export class ListItem {
  /** Whether the item is deleted (a tombstone). */
  deleted = false;
  /** Local only: the key length of the first item of the run this replica's insert started. */
  run = 0;

  /** @internal */
  constructor(
    public value: ItemValue,
    public key: string,
    public hlc: bigint,
    public writer: string,
    readonly clientId: string,
  ) {}
}

/** A sort entry of the visible order. */
interface Slot {
  /** The item's position key. */
  readonly key: string;
  /** Its inserter's client id (ties between equal keys). */
  readonly clientId: string;
  /** Its seq. */
  readonly seq: number;
  /** Its id. */
  readonly id: ItemId;
}

function compareSlot(a: { key: string; clientId: string; seq: number }, b: { key: string; clientId: string; seq: number }): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1; // keys are ASCII
  const c = compareStr(a.clientId, b.clientId);
  if (c !== 0) return c;
  return a.seq - b.seq;
}

/** Compare `(hlc, writer)` pairs as Python compares the tuples. */
export function compareClock(h1: bigint, w1: string, h2: bigint, w2: string): number {
  if (h1 !== h2) return h1 < h2 ? -1 : 1;
  return compareStr(w1, w2);
}

/** The map key of an item id. */
export function itemKey(id: ItemId): string {
  return `${id[0]}:${id[1]}`;
}

/** All items of one list container, deleted ones included (moves may refer to them). */
export class ListState {
  /** @internal */
  readonly items = new Map<string, ListItem>();
  private readonly order: Slot[] = [];
  /** The item this replica inserted last (local only). */
  lastInsert: ItemId | null = null;
  private tag: [string, string] = ["", ""];

  /** {@link operationSuffix}, with the client's tag kept. */
  suffix(clientId: string, seq: number): string {
    if (this.tag[0] !== clientId) this.tag = [clientId, clientTag(clientId)];
    return operationSuffix(clientId, seq, this.tag[1]);
  }

  /** How many visible items. */
  get length(): number {
    return this.order.length;
  }

  /** Whether `item` was ever inserted here. */
  hasItem(item: ItemId): boolean {
    return this.items.has(itemKey(item));
  }

  /** The item with id `item`. */
  item(item: ItemId): ListItem | undefined {
    return this.items.get(itemKey(item));
  }

  private bisectLeft(k: { key: string; clientId: string; seq: number }): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareSlot(this.order[mid] as Slot, k) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The visible item at `index` (negative indexes count from the end). */
  itemAt(index: number): [ItemId, ListItem] {
    const slot = this.order[index < 0 ? this.order.length + index : index] as Slot;
    return [slot.id, this.items.get(itemKey(slot.id)) as ListItem];
  }

  /** Keys of the neighbours a new item at visible `index` would have (without `exclude`). */
  keysAround(index: number, exclude: ItemId | null = null): [string | null, string | null] {
    const order = this.order;
    if (exclude !== null) {
      const item = this.item(exclude) as ListItem;
      const at = this.bisectLeft({ key: item.key, clientId: item.clientId, seq: exclude[1] });
      const loI = index - 1 < at ? index - 1 : index;
      const hiI = index < at ? index : index + 1;
      const lo = index > 0 ? (order[loI] as Slot).key : null;
      const hi = hiI < order.length ? (order[hiI] as Slot).key : null;
      return [lo, hi];
    }
    const lo = index > 0 ? (order[index - 1] as Slot).key : null;
    const hi = index < order.length ? (order[index] as Slot).key : null;
    return [lo, hi];
  }

  /** Add an item. */
  insert(itemId: ItemId, clientId: string, value: ItemValue, key: string, hlc: bigint): void {
    this.items.set(itemKey(itemId), new ListItem(value, key, hlc, clientId, clientId));
    const slot = { key, clientId, seq: itemId[1], id: itemId };
    this.order.splice(this.bisectLeft(slot), 0, slot);
  }

  /** The key for a local insert at visible `index` and the run length for the item. */
  keyForInsert(index: number, suffix: string): [string, number] {
    const [lo, hi] = this.keysAround(index);
    if (index > 0 && this.lastInsert !== null) {
      const left = (this.order[index - 1] as Slot).id;
      if (left[0] === this.lastInsert[0] && left[1] === this.lastInsert[1]) {
        const run = (this.item(left) as ListItem).run;
        if (run > 0) return [keyAfter(lo, hi, run, suffix), run];
      }
    }
    const key = keyAfter(lo, hi, 0, suffix);
    return [key, key.length];
  }

  /** Apply a move; true when it won. */
  move(itemId: ItemId, key: string, hlc: bigint, writer: string): boolean {
    const item = this.item(itemId) as ListItem;
    if (compareClock(hlc, writer, item.hlc, item.writer) <= 0) return false;
    if (!item.deleted) {
      this.order.splice(this.bisectLeft({ key: item.key, clientId: item.clientId, seq: itemId[1] }), 1);
      const slot = { key, clientId: item.clientId, seq: itemId[1], id: itemId };
      this.order.splice(this.bisectLeft(slot), 0, slot);
    }
    item.key = key;
    item.hlc = hlc;
    item.writer = writer;
    item.run = 0;
    return true;
  }

  /** Tombstone an item; true when it was visible. */
  delete(itemId: ItemId): boolean {
    const item = this.item(itemId) as ListItem;
    if (item.deleted) return false;
    item.deleted = true;
    this.order.splice(this.bisectLeft({ key: item.key, clientId: item.clientId, seq: itemId[1] }), 1);
    return true;
  }

  /** `[id, item]` of every visible item, in order. */
  visibleItems(): [ItemId, ListItem][] {
    return this.order.map((s) => [s.id, this.items.get(itemKey(s.id)) as ListItem]);
  }

  /** The visible index of `itemId`; null when it is deleted or unknown. */
  indexOf(itemId: ItemId): number | null {
    const item = this.item(itemId);
    if (item === undefined || item.deleted) return null;
    return this.bisectLeft({ key: item.key, clientId: item.clientId, seq: itemId[1] });
  }

  /** How many visible items come before `itemId` and whether it is visible; null if unknown. */
  placeOf(itemId: ItemId): [number, boolean] | null {
    const item = this.item(itemId);
    if (item === undefined) return null;
    return [this.bisectLeft({ key: item.key, clientId: item.clientId, seq: itemId[1] }), !item.deleted];
  }
}

function checkIndex(index: unknown): asserts index is number {
  if (typeof index !== "number" || !Number.isInteger(index)) {
    throw new InvalidTypeError(`list indices must be integers, got ${String(index)}`);
  }
}

/**
 * An ordered list of JSON values and nested containers with insert, move and delete that
 * merge cleanly.
 */
export class List {
  /** @internal */
  constructor(private readonly doc: Document, private readonly name: ContainerId) {}

  private state(): ListState | undefined {
    return this.doc._lists.get(ckey(this.name));
  }

  private view(itemId: ItemId, value: ItemValue): JSONValue {
    if (value instanceof Child) return render(this.doc, [this.name, itemId], value.kind);
    return cloneJson(value);
  }

  /** How many visible items. */
  get length(): number {
    return this.state()?.length ?? 0;
  }

  /** The JSON view of item `index` (negative counts from the end). */
  get(index: number): JSONValue {
    checkIndex(index);
    const state = this.state();
    if (state === undefined || !(-state.length <= index && index < state.length)) {
      throw new PositionError(`list index ${index} out of range`);
    }
    const [id, item] = state.itemAt(index);
    return this.view(id, item.value);
  }

  /** The JSON view of the list. */
  toJSON(): JSONValue[] {
    return renderList(this.doc, this.name);
  }

  /** Iterate over the items' JSON views. */
  [Symbol.iterator](): Iterator<JSONValue> {
    return this.toJSON()[Symbol.iterator]();
  }

  /** Insert `value` so that it ends at `index` (0 <= index <= length). */
  insert(index: number, value: unknown): void {
    checkIndex(index);
    this.insertValue(index, copyJson(value), null);
  }

  private insertValue(index: number, value: ItemValue, childKind: number | null): ItemId {
    const n = this.length;
    if (!(0 <= index && index <= n)) throw new PositionError(`list insert index ${index} out of range for length ${n}`);
    const doc = this.doc;
    doc._checkKind(this.name, "list");
    const state = doc._listState(this.name);
    const seq = doc._nextSeq();
    const [key, run] = state.keyForInsert(index, state.suffix(doc.clientId, seq));
    const hlc = doc._tick();
    const itemId: ItemId = [doc._me, seq];
    state.insert(itemId, doc.clientId, value, key, hlc);
    (state.item(itemId) as ListItem).run = run;
    state.lastInsert = itemId;
    if (childKind === null) doc._record([LIST_INSERT, seq, this.name, hlc, value as JSONValue, key]);
    else doc._record([LIST_CREATE, seq, this.name, hlc, childKind, key]);
    return itemId;
  }

  private insertChild(index: number, kind: number): ChildHandle {
    checkIndex(index);
    if (depthOf(this.name) + 1 > MAX_DEPTH) throw new InvalidValueError(`containers nest at most ${MAX_DEPTH} levels deep`);
    const itemId = this.insertValue(index, new Child(kind), kind);
    return childHandle(this.doc, [this.name, itemId], kind);
  }

  /** Insert an empty map so that it ends at `index`; returns its handle. */
  insertMap(index: number): import("./map.js").SyncMap {
    return this.insertChild(index, 1) as import("./map.js").SyncMap;
  }

  /** Insert an empty list so that it ends at `index`; returns its handle. */
  insertList(index: number): List {
    return this.insertChild(index, 2) as List;
  }

  /** Insert an empty text so that it ends at `index`; returns its handle. */
  insertText(index: number): import("./textHandle.js").Text {
    return this.insertChild(index, 3) as import("./textHandle.js").Text;
  }

  /** Insert a counter (at 0) so that it ends at `index`; returns its handle. */
  insertCounter(index: number): import("./counter.js").Counter {
    return this.insertChild(index, 4) as import("./counter.js").Counter;
  }

  /** Insert an empty set so that it ends at `index`; returns its handle. */
  insertSet(index: number): import("./orset.js").ORSet {
    return this.insertChild(index, 5) as import("./orset.js").ORSet;
  }

  private childAt(index: number, kind: number): ChildHandle {
    checkIndex(index);
    const state = this.state();
    if (state === undefined || !(-state.length <= index && index < state.length)) {
      throw new PositionError(`list index ${index} out of range`);
    }
    const [itemId, item] = state.itemAt(index);
    const value = item.value;
    const name = CHILD_KINDS[kind - 1] as string;
    if (!(value instanceof Child)) throw new InvalidTypeError(`item ${index} of this list is a value, not a ${name}`);
    if (value.kind !== kind) throw new InvalidTypeError(`item ${index} of this list is a ${value.kindName}, not a ${name}`);
    return childHandle(this.doc, [this.name, itemId], kind);
  }

  /** A handle on the map that is item `index`. */
  getMap(index: number): import("./map.js").SyncMap {
    return this.childAt(index, 1) as import("./map.js").SyncMap;
  }

  /** A handle on the list that is item `index`. */
  getList(index: number): List {
    return this.childAt(index, 2) as List;
  }

  /** A handle on the text that is item `index`. */
  getText(index: number): import("./textHandle.js").Text {
    return this.childAt(index, 3) as import("./textHandle.js").Text;
  }

  /** A handle on the counter that is item `index`. */
  getCounter(index: number): import("./counter.js").Counter {
    return this.childAt(index, 4) as import("./counter.js").Counter;
  }

  /** A handle on the set that is item `index`. */
  getSet(index: number): import("./orset.js").ORSet {
    return this.childAt(index, 5) as import("./orset.js").ORSet;
  }

  /** Insert `value` at the end. */
  append(value: unknown): void {
    this.insert(this.length, value);
  }

  /** Move the item at `index` so that it ends at index `to`. */
  move(index: number, to: number): void {
    const n = this.length;
    for (const i of [index, to]) {
      checkIndex(i);
      if (!(0 <= i && i < n)) throw new PositionError(`list index ${i} out of range for length ${n}`);
    }
    if (index === to) return;
    const doc = this.doc;
    const state = this.state() as ListState;
    const [itemId] = state.itemAt(index);
    const seq = doc._nextSeq();
    const [lo, hi] = state.keysAround(to, itemId);
    const key = keyAfter(lo, hi, 0, state.suffix(doc.clientId, seq));
    const hlc = doc._tick();
    state.move(itemId, key, hlc, doc.clientId);
    doc._record([LIST_MOVE, seq, this.name, itemId, hlc, key]);
  }

  /** Delete the item at `index`. */
  delete(index: number): void {
    const n = this.length;
    checkIndex(index);
    if (!(0 <= index && index < n)) throw new PositionError(`list index ${index} out of range for length ${n}`);
    const doc = this.doc;
    const state = this.state() as ListState;
    const [itemId] = state.itemAt(index);
    const seq = doc._nextSeq();
    state.delete(itemId);
    doc._record([LIST_DELETE, seq, this.name, itemId]);
  }

  /**
   * A cursor at `index` (0 <= index <= length) that moves with the items: `"next"` binds it
   * to the item at `index`, `"previous"` to the one before.
   */
  cursor(index: number, bind: Bind = "next"): Cursor {
    checkIndex(index);
    if (bind !== "next" && bind !== "previous") throw new InvalidValueError(`bind must be 'next' or 'previous', got ${String(bind)}`);
    const n = this.length;
    if (!(0 <= index && index <= n)) throw new PositionError(`list position ${index} out of range for length ${n}`);
    const at = bind === "next" ? index : index - 1;
    const state = this.state();
    if (state === undefined || !(0 <= at && at < n)) return new Cursor(this.label(), null, 0, bind);
    const [[client, seq]] = state.itemAt(at);
    return new Cursor(this.label(), this.doc._clients[client] as string, seq, bind);
  }

  /** Where `cursor` is now (an index), or null when this replica lacks its item. */
  position(cursor: Cursor): number | null {
    if (!(cursor instanceof Cursor)) throw new InvalidTypeError("position takes a Cursor");
    const label = this.label();
    if (cursor.text !== label) throw new InvalidValueError(`the cursor belongs to ${JSON.stringify(cursor.text)}, not list ${JSON.stringify(label)}`);
    const state = this.state();
    if (cursor.client === null) return cursor.bind === "previous" || state === undefined ? 0 : state.length;
    const client = this.doc._clientIndex.get(cursor.client);
    if (client === undefined || state === undefined) return null;
    const found = state.placeOf([client, cursor.seq]);
    if (found === null) return null;
    const [before, visible] = found;
    return visible && cursor.bind === "previous" ? before + 1 : before;
  }

  private label(): string {
    return typeof this.name === "string" ? this.name : labelOf(this.doc, this.name);
  }
}
