/**
 * Operation ids and container ids shared by the core's containers (Python: `_ids.py`).
 *
 * Inside a document every client id string is replaced by a small integer, its index in the
 * document's client table; an operation is named by `[client, seq]`. The index is local to
 * one document: encodings carry the client id strings, and every merge rule that must agree
 * across replicas compares the strings, never the indexes.
 */

/** `[client index, seq]`: one operation (or one character of a text insert). */
export type ItemId = readonly [number, number];

/** The container at `key` of map `parent`, created over the write `epoch` (or none). */
export type MapChildId = readonly [parent: ContainerId, key: string, epoch: ItemId | null];

/** The container that is item `item` of list `parent`. */
export type ListChildId = readonly [parent: ContainerId, item: ItemId];

/**
 * What names a container inside a document: a top-level container by its name, a nested
 * one by the step that leads to it from its parent (as Python's tuples).
 */
export type ContainerId = string | MapChildId | ListChildId;

/** The name of the top-level container `cid` is in (or is). */
export function rootOf(cid: ContainerId): string {
  while (typeof cid !== "string") cid = cid[0];
  return cid;
}

/** How deep container `cid` is nested (0 for a top-level one). */
export function depthOf(cid: ContainerId): number {
  let depth = 0;
  while (typeof cid !== "string") {
    cid = cid[0];
    depth += 1;
  }
  return depth;
}

const KEYS = new WeakMap<object, string>();

/**
 * A string that identifies `cid` by value (JavaScript maps compare arrays by identity): a
 * top-level name is its own key unless it starts with U+0000 (then U+0000 and its JSON); a
 * nested one's is U+0000, the length of its parent's key, ":", that key and its step, so
 * keys grow linearly with depth and no two containers share one.
 */
export function ckey(cid: ContainerId): string {
  if (typeof cid === "string") {
    return cid.startsWith("\u0000") ? "\u0000" + JSON.stringify(cid) : cid;
  }
  const known = KEYS.get(cid);
  if (known !== undefined) return known;
  const parent = ckey(cid[0]);
  let step: string;
  if (cid.length === 3) {
    const epoch = cid[2];
    step = JSON.stringify([cid[1], epoch === null ? -1 : epoch[0], epoch === null ? 0 : epoch[1]]);
  } else {
    step = `${cid[1][0]},${cid[1][1]}`;
  }
  const key = `\u0000${parent.length}:${parent}${step}`;
  KEYS.set(cid, key);
  return key;
}

/** Whether two item ids (or nulls) are equal. */
export function sameItem(a: ItemId | null, b: ItemId | null): boolean {
  if (a === null || b === null) return a === b;
  return a[0] === b[0] && a[1] === b[1];
}

/** Whether two ids (or two absent ids, `null`) are the same (the text port's name). */
export const sameId = sameItem;
