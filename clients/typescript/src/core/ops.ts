/**
 * Operation kinds and the in-memory shape of operations (Python: `_ops.py`).
 *
 * Every operation is a tuple whose first two items are its kind and its seq, with the
 * layouts of the Python core:
 *
 * | kind | tuple |
 * |---|---|
 * | FIELD_SET | `[kind, seq, name, hlc, value]` |
 * | FIELD_DELETE | `[kind, seq, name, hlc]` |
 * | COUNTER_ADD | `[kind, seq, name, delta]` |
 * | SET_ADD | `[kind, seq, name, member]` |
 * | SET_REMOVE | `[kind, seq, name, member, tags]` |
 * | LIST_INSERT | `[kind, seq, name, hlc, value, key]` |
 * | LIST_MOVE | `[kind, seq, name, item, hlc, key]` |
 * | LIST_DELETE | `[kind, seq, name, item]` |
 * | TEXT_INSERT | `[kind, seq, name, left, right, content]` |
 * | TEXT_DELETE | `[kind, seq, name, targetClient, targetFirst, signedCount]` |
 * | SKIP | `[kind, seq, count]` |
 * | MAP_SET | `[kind, seq, map, key, hlc, value]` |
 * | MAP_DELETE | `[kind, seq, map, key, hlc]` |
 * | MAP_CREATE | `[kind, seq, map, key, hlc, childKind, epoch]` |
 * | LIST_CREATE | `[kind, seq, list, hlc, childKind, key]` |
 *
 * Clocks (`hlc`) are `bigint`: wall milliseconds shifted left 16 bits pass 2^53; so are
 * counter deltas (any sint64, as in Python).
 */
import type { ContainerId, ItemId } from "./ids.js";
import type { JSONScalar, JSONValue } from "./values.js";

/** Operation kind: a field write. */
export const FIELD_SET = 1;
/** Operation kind: a field delete. */
export const FIELD_DELETE = 2;
/** Operation kind: a counter increment. */
export const COUNTER_ADD = 3;
/** Operation kind: a set add. */
export const SET_ADD = 4;
/** Operation kind: a set remove. */
export const SET_REMOVE = 5;
/** Operation kind: a list insert. */
export const LIST_INSERT = 6;
/** Operation kind: a list move. */
export const LIST_MOVE = 7;
/** Operation kind: a list delete. */
export const LIST_DELETE = 8;
/** Operation kind: a text insert. */
export const TEXT_INSERT = 9;
/** Operation kind: a text delete. */
export const TEXT_DELETE = 10;
/** Operation kind: seqs that need not be sent. */
export const SKIP = 11;
/** Operation kind: a map key write. */
export const MAP_SET = 12;
/** Operation kind: a map key delete. */
export const MAP_DELETE = 13;
/** Operation kind: a nested container created at a map key. */
export const MAP_CREATE = 14;
/** Operation kind: a nested container inserted as a list item. */
export const LIST_CREATE = 15;

/** The kinds of container that can be nested, by child kind (1: map, ..., 5: set). */
export const CHILD_KINDS = ["map", "list", "text", "counter", "set"] as const;

/** `[FIELD_SET, seq, name, hlc, value]` */
export type FieldSetOp = readonly [typeof FIELD_SET, number, ContainerId, bigint, JSONValue];
/** `[FIELD_DELETE, seq, name, hlc]` */
export type FieldDeleteOp = readonly [typeof FIELD_DELETE, number, ContainerId, bigint];
/** `[COUNTER_ADD, seq, name, delta]` */
export type CounterAddOp = readonly [typeof COUNTER_ADD, number, ContainerId, bigint];
/** `[SET_ADD, seq, name, member]` */
export type SetAddOp = readonly [typeof SET_ADD, number, ContainerId, JSONScalar];
/** `[SET_REMOVE, seq, name, member, tags]` */
export type SetRemoveOp = readonly [typeof SET_REMOVE, number, ContainerId, JSONScalar, readonly ItemId[]];
/** `[LIST_INSERT, seq, name, hlc, value, key]` */
export type ListInsertOp = readonly [typeof LIST_INSERT, number, ContainerId, bigint, JSONValue, string];
/** `[LIST_MOVE, seq, name, item, hlc, key]` */
export type ListMoveOp = readonly [typeof LIST_MOVE, number, ContainerId, ItemId, bigint, string];
/** `[LIST_DELETE, seq, name, item]` */
export type ListDeleteOp = readonly [typeof LIST_DELETE, number, ContainerId, ItemId];
/** `[TEXT_INSERT, seq, name, left, right, content]` */
export type TextInsertOp = readonly [typeof TEXT_INSERT, number, ContainerId, ItemId | null, ItemId | null, string];
/** `[TEXT_DELETE, seq, name, targetClient, targetFirst, signedCount]` */
export type TextDeleteOp = readonly [typeof TEXT_DELETE, number, ContainerId, number, number, number];
/** `[SKIP, seq, count]` */
export type SkipOp = readonly [typeof SKIP, number, number];
/** `[MAP_SET, seq, map, key, hlc, value]` */
export type MapSetOp = readonly [typeof MAP_SET, number, ContainerId, string, bigint, JSONValue];
/** `[MAP_DELETE, seq, map, key, hlc]` */
export type MapDeleteOp = readonly [typeof MAP_DELETE, number, ContainerId, string, bigint];
/** `[MAP_CREATE, seq, map, key, hlc, childKind, epoch]` */
export type MapCreateOp = readonly [typeof MAP_CREATE, number, ContainerId, string, bigint, number, ItemId | null];
/** `[LIST_CREATE, seq, list, hlc, childKind, key]` */
export type ListCreateOp = readonly [typeof LIST_CREATE, number, ContainerId, bigint, number, string];

/** An operation; see the module comment for its layout by kind. */
export type Op =
  | FieldSetOp | FieldDeleteOp | CounterAddOp | SetAddOp | SetRemoveOp | ListInsertOp
  | ListMoveOp | ListDeleteOp | TextInsertOp | TextDeleteOp | SkipOp | MapSetOp
  | MapDeleteOp | MapCreateOp | ListCreateOp;

/** Length of a string in code points (Python's `len`). */
export function cpLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) { n -= 1; i++; }
    }
  }
  return n;
}

/** The first `k` code points of `s` and the rest. */
export function cpSplit(s: string, k: number): [string, string] {
  let i = 0;
  for (let n = 0; n < k && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return [s.slice(0, i), s.slice(i)];
}

/** How many seqs `op` takes. */
export function opWidth(op: Op): number {
  switch (op[0]) {
    case TEXT_INSERT: return cpLength(op[5]);
    case TEXT_DELETE: return Math.abs(op[5]);
    case SKIP: return op[2];
    default: return 1;
  }
}

/** The (first) seq of `op`: a sort key. */
export function seqOf(op: Op): number {
  return op[1];
}

/** Split a multi-seq operation of `client` after its first `k` seqs. */
export function splitOp(client: number, op: Op, k: number): [Op, Op] {
  const seq = op[1];
  if (op[0] === TEXT_INSERT) {
    const [head, tail] = cpSplit(op[5], k);
    return [
      [TEXT_INSERT, seq, op[2], op[3], op[4], head],
      [TEXT_INSERT, seq + k, op[2], [client, seq + k - 1], op[4], tail],
    ];
  }
  if (op[0] === TEXT_DELETE) {
    const count = op[5];
    const step = count > 0 ? 1 : -1;
    return [
      [TEXT_DELETE, seq, op[2], op[3], op[4], k * step],
      [TEXT_DELETE, seq + k, op[2], op[3], op[4] + k * step, count - k * step],
    ];
  }
  if (op[0] === SKIP) return [[SKIP, seq, k], [SKIP, seq + k, op[2] - k]];
  throw new Error(`operation kind ${op[0]} spans one seq`);
}

/** Index of the first element whose key is greater than `x` (Python's `bisect_right`). */
export function bisectRight<T>(a: readonly T[], x: number, key: (t: T) => number, lo = 0): number {
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < key(a[mid] as T)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The kinds of top-level operations that refer to items (see {@link opRefs}). */
export const REF_KINDS: ReadonlySet<number> = new Set([SET_REMOVE, LIST_MOVE, LIST_DELETE, MAP_CREATE]);

/**
 * The items a counter, set, list or map operation refers to (as `apply` checks them): a set
 * remove's tags, the item a list move or delete targets, the write a map's creation of a
 * container replaces, and the steps to a nested container (Python: `_ops.op_refs`).
 */
export function opRefs(op: Op): ItemId[] {
  const refs: ItemId[] = [];
  if (op[0] === SET_REMOVE) refs.push(...op[4]);
  else if (op[0] === LIST_MOVE || op[0] === LIST_DELETE) refs.push(op[3]);
  else if (op[0] === MAP_CREATE && op[6] !== null) refs.push(op[6]);
  if (op[0] !== SKIP) pathRefs(op[2], refs);
  return refs;
}

/** Add to `refs` the items the path to container `cid` names (its list items and map epochs); returns `refs`. */
export function pathRefs(cid: ContainerId, refs: ItemId[]): ItemId[] {
  while (typeof cid !== "string") {
    if (cid.length === 2) refs.push(cid[1]);
    else if (cid[2] !== null) refs.push(cid[2]);
    cid = cid[0];
  }
  return refs;
}
