/**
 * The map container: string keys whose values merge one by one, and its handle (Python:
 * `_map.py`).
 *
 * Each key is a last-writer-wins register ordered by `(hlc, client id)`. A key holds a JSON
 * value, a tombstone, or a nested container named by `[map id, key, epoch]`, where `epoch`
 * is the id of the write the container's creation replaced (null when the key had never
 * been written): two replicas creating a container at the same fresh key name the same
 * container, and a container created after a delete is a new, empty one.
 */
import { InvalidTypeError, InvalidValueError, NotFoundError } from "../errors.js";
import { Child, childHandle, MAX_DEPTH, registerHandle, type ChildHandle } from "./child.js";
import { Counter } from "./counter.js";
import type { Document } from "./document.js";
import { ckey, depthOf, type ContainerId, type ItemId } from "./ids.js";
import { List, compareClock } from "./list.js";
import { CHILD_KINDS, MAP_CREATE, MAP_DELETE, MAP_SET } from "./ops.js";
import { ORSet } from "./orset.js";
import { Text } from "./textHandle.js";
import { checkText, compareStr, copyJson, type JSONValue } from "./values.js";
import { renderMap, renderValue } from "./views.js";

/** The value of a deleted field or map key (a tombstone). */
export const DELETED: unique symbol = Symbol("DELETED");

/** What a map key holds. */
export type MapValue = JSONValue | Child | typeof DELETED;

/** A map key's register: `[hlc, writer client id, client index, seq, value]`. */
export type Entry = readonly [bigint, string, number, number, MapValue];

/** All keys of one map container, deleted ones included (their writes still compete). */
export class MapState {
  /** The registers by key. */
  readonly entries = new Map<string, Entry>();

  /** Apply a write; true when it won. */
  write(key: string, hlc: bigint, writer: string, c: number, seq: number, value: MapValue): boolean {
    const cur = this.entries.get(key);
    if (cur !== undefined && compareClock(hlc, writer, cur[0], cur[1]) <= 0) return false;
    this.entries.set(key, [hlc, writer, c, seq, value]);
    return true;
  }

  /** `[key, value]` of every key that is not deleted, in key order (by code point). */
  visible(): [string, JSONValue | Child][] {
    const out: [string, JSONValue | Child][] = [];
    for (const key of [...this.entries.keys()].sort(compareStr)) {
      const value = (this.entries.get(key) as Entry)[4];
      if (value !== DELETED) out.push([key, value]);
    }
    return out;
  }

  /** How many keys are set. */
  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e[4] !== DELETED) n++;
    return n;
  }
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string") throw new InvalidTypeError(`map keys must be strings, got ${typeof key}`);
}

/**
 * A map of string keys to JSON values and nested containers; each key merges on its own.
 * (Python's `synckit.Map`; named `SyncMap` here so as not to hide JavaScript's `Map`.)
 */
export class SyncMap {
  /** @internal */
  constructor(private readonly doc: Document, private readonly name: ContainerId) {}

  private state(): MapState | undefined {
    return this.doc._maps.get(ckey(this.name));
  }

  private entry(key: string): MapValue {
    const e = this.state()?.entries.get(key);
    return e === undefined ? DELETED : e[4];
  }

  /** The JSON value at `key` (a nested container's JSON view), or `fallback`. */
  get(key: string, fallback: JSONValue = null): JSONValue {
    const value = this.entry(key);
    return value === DELETED ? fallback : renderValue(this.doc, this.name, key, value);
  }

  /** The JSON value at `key`; {@link NotFoundError} when unset. */
  at(key: string): JSONValue {
    const value = this.entry(key);
    if (value === DELETED) throw new NotFoundError(key);
    return renderValue(this.doc, this.name, key, value);
  }

  /** Whether `key` is set. */
  has(key: unknown): boolean {
    return typeof key === "string" && this.entry(key) !== DELETED;
  }

  /** How many keys are set. */
  get size(): number {
    return this.state()?.size ?? 0;
  }

  /** The keys that are set, sorted (the same on every replica). */
  keys(): string[] {
    return (this.state()?.visible() ?? []).map(([k]) => k);
  }

  /** This map as a plain object, nested containers as their JSON views. */
  toJSON(): { [key: string]: JSONValue } {
    return renderMap(this.doc, this.name);
  }

  private write(key: string, kind: typeof MAP_SET | typeof MAP_DELETE | typeof MAP_CREATE, value: MapValue, extra: readonly unknown[]): void {
    const doc = this.doc;
    checkKey(key);
    checkText(key, "map key");
    doc._checkKind(this.name, "map");
    const seq = doc._nextSeq();
    const hlc = doc._tick();
    doc._mapState(this.name).write(key, hlc, doc.clientId, doc._me, seq, value);
    if (kind === MAP_SET) doc._record([MAP_SET, seq, this.name, key, hlc, extra[0] as JSONValue]);
    else if (kind === MAP_DELETE) doc._record([MAP_DELETE, seq, this.name, key, hlc]);
    else doc._record([MAP_CREATE, seq, this.name, key, hlc, extra[0] as number, extra[1] as ItemId | null]);
  }

  /** Set `key` to a JSON value, replacing what it held (a container included). */
  set(key: string, value: unknown): void {
    const copy = copyJson(value, `value of ${JSON.stringify(key)}`);
    this.write(key, MAP_SET, copy, [copy]);
  }

  /** Delete `key`; a container created there later is a new one. */
  delete(key: string): void {
    this.write(key, MAP_DELETE, DELETED, []);
  }

  private child(key: string, kind: number): ChildHandle {
    checkKey(key);
    const entry = this.state()?.entries.get(key);
    const name = CHILD_KINDS[kind - 1] as string;
    if (entry !== undefined && entry[4] !== DELETED) {
      const value = entry[4];
      if (!(value instanceof Child)) throw new InvalidTypeError(`${JSON.stringify(key)} holds a value in this map, not a ${name}`);
      if (value.kind !== kind) throw new InvalidTypeError(`${JSON.stringify(key)} is a ${value.kindName} in this map, not a ${name}`);
      return childHandle(this.doc, [this.name, key, value.epoch], kind);
    }
    if (depthOf(this.name) + 1 > MAX_DEPTH) throw new InvalidValueError(`containers nest at most ${MAX_DEPTH} levels deep`);
    const epoch: ItemId | null = entry === undefined ? null : [entry[2], entry[3]];
    this.write(key, MAP_CREATE, new Child(kind, epoch), [kind, epoch]);
    return childHandle(this.doc, [this.name, key, epoch], kind);
  }

  /** The map at `key`, created (empty) when the key is unset or deleted. */
  getMap(key: string): SyncMap {
    return this.child(key, 1) as SyncMap;
  }

  /** The list at `key`, created (empty) when the key is unset or deleted. */
  getList(key: string): List {
    return this.child(key, 2) as List;
  }

  /** The text at `key`, created (empty) when the key is unset or deleted. */
  getText(key: string): Text {
    return this.child(key, 3) as Text;
  }

  /** The counter at `key`, created (at 0) when the key is unset or deleted. */
  getCounter(key: string): Counter {
    return this.child(key, 4) as Counter;
  }

  /** The set at `key`, created (empty) when the key is unset or deleted. */
  getSet(key: string): ORSet {
    return this.child(key, 5) as ORSet;
  }
}

registerHandle(1, (doc, cid) => new SyncMap(doc, cid));
registerHandle(2, (doc, cid) => new List(doc, cid));
registerHandle(3, (doc, cid) => new Text(doc, cid));
registerHandle(4, (doc, cid) => new Counter(doc, cid));
registerHandle(5, (doc, cid) => new ORSet(doc, cid));
