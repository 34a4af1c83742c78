/**
 * The document: a JSON-like map of named fields and containers that replicas merge
 * (Python: `_document.py` and `_host.py`).
 *
 * Every edit becomes an operation numbered by its client, `[client, seq]`; a replica holds
 * a gap-free prefix of each client's operations, so its version is one number per client.
 * Operations travel in changes carrying their causal dependencies, remembered per client as
 * checkpoints. Dependencies are minimal (see Python's `_document.py`): a local operation
 * depends on the document's other heads when changes arrived since its previous one, and on
 * every item of another client it refers to ({@link Document._cover}). Field writes carry a
 * hybrid logical clock: wall milliseconds shifted left 16 bits plus a counter, never behind
 * any clock this replica has seen; ties break on client id.
 */
import { InvalidTypeError } from "../errors.js";
import { changes as changesOf } from "./changes.js";
import { Child } from "./child.js";
import { Change, NO_DEPS, type Deps } from "./codec.js";
import { Counter } from "./counter.js";
import type { ChangeEvent, Path, Subscriber, TextEdit, Unsubscribe } from "./events.js";
import { ckey, rootOf, type ContainerId, type ItemId } from "./ids.js";
import { List, ListState, compareClock } from "./list.js";
import { DELETED, MapState, SyncMap } from "./map.js";
import * as K from "./ops.js";
import type { Op } from "./ops.js";
import { ORSet, ORSetState } from "./orset.js";
import { copyRaw, RAW } from "./pyjson.js";
import { apply as applyChanges, merge as mergeDocs } from "./remote.js";
import type { Screen } from "./screen.js";
import { load as loadSnapshot, save as saveSnapshot } from "./snapshot.js";
import { dropSpent } from "./spent.js";
import { TextState } from "./text/index.js";
import type { Checkpoint } from "./text/index.js";
import { Text } from "./textHandle.js";
import { checkText, cloneJson, copyJson, setProp, type JSONValue } from "./values.js";
import { VersionVector } from "./version.js";
import { pathOf, renderList, renderMap } from "./views.js";

/** A clock returns wall time in milliseconds since the Unix epoch. */
export type Clock = () => number;

/** Options of a {@link Document}. */
export interface DocumentOptions {
  /** Returns wall time in milliseconds; defaults to `Date.now`. Tests pass their own. */
  clock?: Clock;
}

/** A field's register: `[hlc, writer client index, seq, value or DELETED]`. */
export type FieldEntry = readonly [bigint, number, number, JSONValue | typeof DELETED];

const HLC_SHIFT = 16n;
const MAX_HLC = 1n << 62n;

/** Kind names, for error messages. */
export type Kind = "field" | "counter" | "set" | "list" | "text" | "map";

function randomId(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A replicated JSON-like document of named top-level fields and containers.
 *
 * Fields are last-writer-wins registers of JSON values ({@link set}); containers are taken
 * with {@link getCounter}, {@link getSet}, {@link getList}, {@link getText} and
 * {@link getMap}. A name
 * belongs to one kind of field or container on a replica.
 */
export class Document {
  /** @internal */ _clock: Clock;
  /** @internal */ readonly _clientId: string;
  /** @internal Client ids by index. */ _clients: string[] = [];
  /** @internal */ _clientIndex = new Map<string, number>();
  /** @internal Per client, the highest seq held. */ _vv: number[] = [];
  /** @internal Per client, its operations other than field writes and text edits. */ _log: Op[][] = [];
  /** @internal Per client, its dependency checkpoints. */ _checkpoints: Checkpoint[][] = [];
  /** @internal The highest clock seen. */ _hlc = 0n;
  /** @internal Field name to register, in write order. */ _fields = new Map<string, FieldEntry>();
  /** @internal Per client, the highest seq of a field write it made. */ _fieldTop: number[] = [];
  /** @internal Container states by {@link ckey}. */ _counters = new Map<string, bigint>();
  /** @internal */ _sets = new Map<string, ORSetState>();
  /** @internal */ _lists = new Map<string, ListState>();
  /** @internal */ _texts = new Map<string, TextState>();
  /** @internal */ _maps = new Map<string, MapState>();
  /** @internal The container id of each key of the tables above. */ _cids = new Map<string, ContainerId>();
  /** @internal Changes waiting for causal predecessors. */ _pending: Change[] = [];
  /** @internal */ _subscribers: (Subscriber & { withoutTextEdits?: boolean })[] = [];
  /** @internal */ _depsStale = true;
  /** @internal The clients whose latest operation no other held one depends on; null until needed. */ _heads: Set<number> | null = null;
  /** @internal This replica's client index. */ _me: number;

  /**
   * @param clientId - this replica's id (non-empty); a random one when omitted. Two replicas
   *   must never edit under the same id unless one continues the other's saved state.
   * @param options - `clock`: wall milliseconds (inject one in tests).
   */
  constructor(clientId?: string | null, options: DocumentOptions = {}) {
    if (clientId === undefined || clientId === null) clientId = randomId();
    else if (typeof clientId !== "string" || !clientId) throw new InvalidTypeError(`clientId must be a non-empty string, got ${JSON.stringify(clientId)}`);
    if (options.clock !== undefined && typeof options.clock !== "function") throw new InvalidTypeError("clock must be a function returning milliseconds");
    this._clock = options.clock ?? Date.now;
    this._clientId = clientId;
    this._me = this._intern(clientId);
  }

  /** This replica's client id. */
  get clientId(): string {
    return this._clientId;
  }

  /** @internal The index of `clientId`, added to the table when new. */
  _intern(clientId: string): number {
    let idx = this._clientIndex.get(clientId);
    if (idx === undefined) {
      idx = this._clients.length;
      this._clientIndex.set(clientId, idx);
      this._clients.push(clientId);
      this._vv.push(0);
      this._log.push([]);
      this._fieldTop.push(0);
      this._checkpoints.push([]);
    }
    return idx;
  }

  /** @internal Undo {@link _intern} of every client from index `n` on. */
  _forgetClientsFrom(n: number): void {
    for (const c of this._clients.slice(n)) this._clientIndex.delete(c);
    for (const column of [this._clients, this._vv, this._log, this._fieldTop, this._checkpoints] as unknown[][]) column.length = n;
  }

  /** @internal The next hybrid logical clock value for a local write. */
  _tick(): bigint {
    let hlc = this._hlc + 1n;
    const now = BigInt(Math.floor(this._clock())) << HLC_SHIFT;
    if (now > hlc) hlc = now;
    if (hlc > MAX_HLC - 1n) hlc = MAX_HLC - 1n;
    this._hlc = hlc;
    return hlc;
  }

  /** @internal Reserve the checkpoint for the next local operation and return its seq. */
  _nextSeq(): number {
    const me = this._me;
    const seq = (this._vv[me] as number) + 1;
    if (this._depsStale) {
      this._depsStale = false;
      const vv = this._vv;
      let heads = this._heads;
      if (heads === null) heads = this._heads = headsOf(this);
      const deps = new Map<number, number>();
      // In client order: the bytes must not depend on the order heads were found in.
      for (const c of [...heads].sort((a, b) => a - b)) if (c !== me) deps.set(c, vv[c] as number);
      // After this operation every other head is one it depends on.
      heads.clear();
      heads.add(me);
      const cps = this._checkpoints[me] as Checkpoint[];
      const last = cps[cps.length - 1];
      // No new heads: the operation depends on its own previous one, which covers all
      // the dependencies in force (and no checkpoint means none).
      if (deps.size > 0 && (last === undefined || !sameDeps(last[1], deps))) cps.push([seq, deps]);
    }
    return seq;
  }

  /**
   * @internal Make the dependencies of local operation `seq` (reserved by {@link _nextSeq})
   * name every item of another client in `refs`, the items it refers to: added to the
   * operation's checkpoint if it starts one, else a checkpoint starts at `seq` holding all
   * of them (a receiver checks references against the checkpoint alone).
   */
  _cover(seq: number, refs: Iterable<ItemId>): void {
    const me = this._me;
    const cps = this._checkpoints[me] as Checkpoint[];
    const last = cps[cps.length - 1];
    const deps = last !== undefined ? last[1] : NO_DEPS;
    let need: Map<number, number> | null = null;
    let missing = false;
    for (const [c, s] of refs) {
      if (c === me) continue;
      if ((deps.get(c) ?? 0) < s) missing = true;
      if (need === null) need = new Map([[c, s]]);
      else if ((need.get(c) ?? 0) < s) need.set(c, s);
    }
    if (!missing || need === null) return;
    if (last !== undefined && last[0] === seq) {
      const merged = new Map(deps);
      for (const [c, s] of need) if ((merged.get(c) ?? 0) < s) merged.set(c, s);
      cps[cps.length - 1] = [seq, merged];
    } else {
      cps.push([seq, need]);
    }
  }

  /** @internal Log a local counter, set, list or map operation, make its dependencies name what it refers to, and tell subscribers. */
  _record(op: Op): void {
    const me = this._me;
    if (typeof op[2] !== "string" || K.REF_KINDS.has(op[0])) this._cover(op[1], K.opRefs(op));
    this._vv[me] = op[1];
    (this._log[me] as Op[]).push(op);
    if (this._subscribers.length) this._emit(true, [op[2] as ContainerId]);
  }

  /** @internal Tell the subscribers. */
  _emit(local: boolean, names: Iterable<ContainerId>, textEdits?: Map<string, TextEdit[]>): void {
    if (!this._subscribers.length) return;
    const top = new Set<string>();
    const paths: Path[] = [];
    const seen = new Set<string>();
    for (const n of names) {
      if (typeof n === "string") {
        top.add(n);
      } else {
        top.add(rootOf(n));
        const k = ckey(n);
        if (seen.has(k)) continue;
        seen.add(k);
        const p = pathOf(this, n);
        if (p !== null) paths.push(p);
      }
    }
    const flat = new Map<string, TextEdit[]>();
    const byPath = new Map<string, TextEdit[]>();
    for (const [k, edits] of textEdits ?? []) {
      const cid = this._cids.get(k) as ContainerId;
      if (typeof cid === "string") flat.set(cid, edits);
      else {
        const p = pathOf(this, cid);
        if (p !== null) byPath.set(JSON.stringify(p), edits);
      }
    }
    const event: ChangeEvent = { local, names: top, textEdits: flat, paths, nestedTextEdits: byPath };
    for (const callback of [...this._subscribers]) callback(event);
  }

  /** @internal Claim `name` for `kind`; {@link InvalidTypeError} if it is another kind here. */
  _checkKind(name: ContainerId, kind: Kind): ContainerId {
    if (typeof name !== "string") {
      if (Array.isArray(name)) return name;
      throw new InvalidTypeError(`${kind} names must be strings, got ${typeof name}`);
    }
    checkText(name, `${kind} name`);
    const k = ckey(name);
    const tables: [Kind, Map<string, unknown>][] = [
      ["field", this._fields], ["counter", this._counters], ["set", this._sets],
      ["list", this._lists], ["text", this._texts], ["map", this._maps],
    ];
    for (const [other, table] of tables) {
      if (other !== kind && table.has(other === "field" ? name : k)) {
        if (other === "field" && (this._fields.get(name) as FieldEntry)[3] === DELETED) continue;
        throw new InvalidTypeError(`${JSON.stringify(name)} is a ${other} in this document, not a ${kind}`);
      }
    }
    return name;
  }

  // ------------------------------------------------------------------ LWW fields

  /** Set top-level `field` to a JSON value, replacing the old value whole. */
  set(field: string, value: unknown): void {
    const copy = copyJson(value, `value of ${JSON.stringify(field)}`);
    if (!this._fields.has(field)) this._checkKind(field, "field");
    const seq = this._nextSeq();
    this._writeOwnField(field, this._tick(), seq, copy);
    if (this._subscribers.length) this._emit(true, [field]);
  }

  /** @internal Record a local write (or, with DELETED, a delete) of `field`. */
  _writeOwnField(field: string, hlc: bigint, seq: number, value: JSONValue | typeof DELETED): void {
    const me = this._me;
    this._vv[me] = seq;
    this._fieldTop[me] = seq;
    const cur = this._fields.get(field);
    if (cur !== undefined && cur[0] >= hlc && compareClock(cur[0], this._clients[cur[1]] as string, hlc, this._clients[me] as string) > 0) return;
    if (cur !== undefined) this._fields.delete(field);
    this._fields.set(field, [hlc, me, seq, value]);
  }

  /** The value of `field`, or `fallback` when it is unset or deleted (copies of arrays and objects). */
  get(field: string, fallback: JSONValue = null): JSONValue {
    const entry = this._fields.get(field);
    if (entry === undefined || entry[3] === DELETED) return fallback;
    return cloneJson(entry[3]);
  }

  /** Delete `field` (a tombstone that wins or loses like any write). */
  delete(field: string): void {
    this._checkKind(field, "field");
    const seq = this._nextSeq();
    this._writeOwnField(field, this._tick(), seq, DELETED);
    this._emit(true, [field]);
  }

  /** Set several fields under one clock. Every value is checked first: a bad one changes nothing. */
  update(mapping: Readonly<Record<string, unknown>>): void {
    if (mapping === null || typeof mapping !== "object" || Array.isArray(mapping)) throw new InvalidTypeError("update takes an object");
    const items: [string, JSONValue][] = [];
    for (const field of Object.keys(mapping)) {
      if (!this._fields.has(field)) this._checkKind(field, "field");
      items.push([field, copyJson(mapping[field], `value of ${JSON.stringify(field)}`)]);
    }
    const hlc = items.length ? this._tick() : 0n;
    for (const [field, value] of items) this._writeOwnField(field, hlc, this._nextSeq(), value);
    if (items.length) this._emit(true, items.map(([f]) => f));
  }

  // ------------------------------------------------------------------ containers

  /** A handle on the PN-counter `name` (taking it changes nothing). */
  getCounter(name: string): Counter {
    return new Counter(this, this._checkKind(name, "counter"));
  }

  /** A handle on the add-wins set `name` (taking it changes nothing). */
  getSet(name: string): ORSet {
    return new ORSet(this, this._checkKind(name, "set"));
  }

  /** A handle on the ordered list `name` (taking it changes nothing). */
  getList(name: string): List {
    return new List(this, this._checkKind(name, "list"));
  }

  /** A handle on the collaborative text `name` (taking it changes nothing). */
  getText(name: string): Text {
    return new Text(this, this._checkKind(name, "text"));
  }

  /** A handle on the map `name`, whose keys merge one by one (taking it changes nothing). */
  getMap(name: string): SyncMap {
    return new SyncMap(this, this._checkKind(name, "map"));
  }

  // ------------------------------------------------------------------ views

  /**
   * The plain JSON view: fields, and counters/sets/maps/lists/texts as number/array/object/
   * array/string. If concurrent replicas used one name for different kinds, text shows over
   * list over map over set over counter over field.
   */
  toJSON(): { [name: string]: JSONValue } {
    const out: { [name: string]: JSONValue } = {};
    for (const [name, entry] of this._fields) if (entry[3] !== DELETED) setProp(out, name, cloneJson(entry[3]));
    const top = (k: string): string | null => {
      const cid = this._cids.get(k);
      return typeof cid === "string" ? cid : null;
    };
    for (const [k, total] of this._counters) { const n = top(k); if (n !== null) setProp(out, n, Number(total)); }
    for (const [k, members] of this._sets) { const n = top(k); if (n !== null) setProp(out, n, members.values()); }
    for (const k of this._maps.keys()) { const n = top(k); if (n !== null) setProp(out, n, renderMap(this, n)); }
    for (const k of this._lists.keys()) { const n = top(k); if (n !== null) setProp(out, n, renderList(this, n)); }
    for (const [k, text] of this._texts) { const n = top(k); if (n !== null) setProp(out, n, text.toString()); }
    return out;
  }

  /**
   * Call `callback(event)` after every local or remote change; returns a function that
   * unsubscribes. Exceptions a callback throws reach the caller of the edit or `apply`.
   *
   * `options.textEdits: false` says the callback does not read `event.textEdits`: while no
   * subscriber wants them, remote changes are applied without recording them, and events of
   * remote changes carry none.
   */
  subscribe(callback: Subscriber, options: { textEdits?: boolean } = {}): Unsubscribe {
    if (typeof callback !== "function") throw new InvalidTypeError("subscribe takes a function");
    const entry: Subscriber & { withoutTextEdits?: boolean } = (e) => callback(e);
    if (options.textEdits === false) entry.withoutTextEdits = true;
    this._subscribers = [...this._subscribers, entry];
    return () => {
      this._subscribers = this._subscribers.filter((s) => s !== entry);
    };
  }

  // ------------------------------------------------------------------ versions & changes

  /** The version of this replica: for each client, the highest seq it holds. */
  version(): VersionVector {
    const seqs = new Map<string, number>();
    this._vv.forEach((s, c) => {
      if (s) seqs.set(this._clients[c] as string, s);
    });
    return VersionVector.trusted(seqs);
  }

  /** How many received changes wait for causal predecessors this replica lacks. */
  get waiting(): number {
    return this._pending.length;
  }

  /**
   * Exactly the operations a replica at version `since` lacks (all when omitted), and of
   * those only the ones `until` covers: protobuf `synckit.v1.ChangeSet` bytes.
   */
  changes(since?: VersionVector | null, until?: VersionVector | null): Uint8Array {
    return changesOf(this, since ?? null, until ?? null);
  }

  /**
   * Apply changes made by {@link changes} on any replica. Idempotent and order-free: changes
   * held already are ignored, and changes whose causal predecessors have not arrived wait.
   *
   * `options.screen`, when given, is called with a {@link ChangeReview} of the decoded
   * changes before anything changes; what it throws refuses them all, and the document is
   * left exactly as it was.
   * @throws DecodeError - the bytes are corrupt, truncated, hostile or of an unknown
   *   format; the document is left exactly as it was.
   */
  apply(data: Uint8Array, options: { screen?: Screen } = {}): void {
    applyChanges(this, data, options.screen ?? null);
  }

  /**
   * Forget the causal dependencies of operations this document no longer holds; returns how
   * many dependency records went (Python `Document.trim_history`, which leaves the same ones).
   *
   * A field write that a later write overwrote is gone, but what it depended on is
   * remembered, one record per change that brought new dependencies: under writers that
   * keep overwriting the same fields, a record per change received, for the document's whole
   * life. Trimming drops the records only such gone operations used; what the document
   * shows, and what every other replica ends with, is unchanged. The sync client trims each
   * document before it stores a snapshot of it.
   */
  trimHistory(): number {
    return dropSpent(this);
  }

  /** Pull in everything `other` holds that this document lacks. */
  merge(other: Document): void {
    if (!(other instanceof Document)) throw new InvalidTypeError("merge takes a Document");
    mergeDocs(this, other);
  }

  // ------------------------------------------------------------------ the state

  /** @internal Apply one non-text operation to the state (not the log). */
  _applyOp(c: number, writer: string, op: Op): void {
    switch (op[0]) {
      case K.FIELD_SET:
      case K.FIELD_DELETE: {
        const name = op[2] as string;
        const hlc = op[3];
        if (hlc > this._hlc) this._hlc = hlc;
        this._fieldTop[c] = Math.max(this._fieldTop[c] as number, op[1]);
        const cur = this._fields.get(name);
        if (cur === undefined || compareClock(hlc, writer, cur[0], this._clients[cur[1]] as string) > 0) {
          this._fields.delete(name);
          this._fields.set(name, copyRaw(op, [hlc, c, op[1], op[0] === K.FIELD_SET ? op[4] : DELETED]));
        }
        break;
      }
      case K.COUNTER_ADD: this._counterAdd(op[2], op[3]); break;
      case K.SET_ADD: this._setState(op[2]).add(op[3], [c, op[1]], RAW.get(op)); break;
      case K.SET_REMOVE: this._setState(op[2]).remove(op[3], op[4], RAW.get(op)); break;
      case K.LIST_INSERT:
        this._seeHlc(op[3]);
        this._listState(op[2]).insert([c, op[1]], writer, op[4], op[5], op[3]);
        break;
      case K.LIST_MOVE:
        this._seeHlc(op[4]);
        (this._lists.get(ckey(op[2])) as ListState).move(op[3], op[5], op[4], writer);
        break;
      case K.LIST_DELETE: (this._lists.get(ckey(op[2])) as ListState).delete(op[3]); break;
      case K.MAP_SET: this._seeHlc(op[4]); this._mapState(op[2]).write(op[3], op[4], writer, c, op[1], op[5]); break;
      case K.MAP_DELETE: this._seeHlc(op[4]); this._mapState(op[2]).write(op[3], op[4], writer, c, op[1], DELETED); break;
      case K.MAP_CREATE: this._seeHlc(op[4]); this._mapState(op[2]).write(op[3], op[4], writer, c, op[1], new Child(op[5], op[6])); break;
      case K.LIST_CREATE:
        this._seeHlc(op[3]);
        this._listState(op[2]).insert([c, op[1]], writer, new Child(op[4]), op[5], op[3]);
        break;
      default: break;
    }
  }

  private _seeHlc(hlc: bigint): void {
    if (hlc > this._hlc) this._hlc = hlc;
  }

  private _state<T>(table: Map<string, T>, name: ContainerId, make: () => T): T {
    const k = ckey(name);
    let state = table.get(k);
    if (state === undefined) {
      state = make();
      table.set(k, state);
      this._cids.set(k, name);
    }
    return state;
  }

  /** @internal */
  _mapState(name: ContainerId): MapState {
    return this._state(this._maps, name, () => new MapState());
  }

  /** @internal */
  _counterAdd(name: ContainerId, delta: bigint): void {
    const k = ckey(name);
    if (!this._counters.has(k)) this._cids.set(k, name);
    this._counters.set(k, (this._counters.get(k) ?? 0n) + delta);
  }

  /** @internal */
  _setState(name: ContainerId): ORSetState {
    return this._state(this._sets, name, () => new ORSetState());
  }

  /** @internal */
  _listState(name: ContainerId): ListState {
    return this._state(this._lists, name, () => new ListState());
  }

  /** @internal */
  _textState(name: ContainerId): TextState {
    return this._state(this._texts, name, () => new TextState(this._clients));
  }

  // ------------------------------------------------------------------ snapshots

  /** A snapshot of everything this replica holds (protobuf `synckit.v1.Snapshot`). */
  save(): Uint8Array {
    return saveSnapshot(this);
  }

  /**
   * Rebuild a document from {@link save} bytes. Loading with a `clientId` that already
   * wrote into the snapshot continues that client's sequence.
   * @throws DecodeError - the bytes are not a valid snapshot.
   */
  static load(data: Uint8Array, clientId?: string | null, options: DocumentOptions = {}): Document {
    return loadSnapshot(data, clientId ?? null, options);
  }
}

/** Whether two dependency maps hold the same entries. */
/**
 * @internal The clients whose latest operation no other held operation depends on, found
 * from the checkpoints (after a load). Direct dependencies suffice: the first operation to
 * depend on another's latest one names it.
 */
export function headsOf(doc: Document): Set<number> {
  const vv = doc._vv;
  const heads = new Set<number>();
  vv.forEach((s, c) => {
    if (s) heads.add(c);
  });
  doc._checkpoints.forEach((cps, c) => {
    const top = vv[c] as number;
    for (const [start, deps] of cps) {
      if (start > top) break; // reserved for an operation never made
      for (const [d, s] of deps) if (s >= (vv[d] as number)) heads.delete(d);
    }
  });
  return heads;
}

export function sameDeps(a: Deps, b: Deps): boolean {
  if (a.size !== b.size) return false;
  for (const [c, s] of a) if (b.get(c) !== s) return false;
  return true;
}

