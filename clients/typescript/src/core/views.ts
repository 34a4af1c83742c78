/**
 * JSON views of containers, nested ones included, and the paths change events report
 * (Python: `_views.py`).
 */
import { Child } from "./child.js";
import type { Document } from "./document.js";
import { ckey, type ContainerId } from "./ids.js";
import { DELETED, type MapValue } from "./map.js";
import { cloneJson, setProp, type JSONValue } from "./values.js";
import type { Path } from "./events.js";

/** The JSON view of container `cid` of child kind `kind` (empty when unwritten). */
export function render(doc: Document, cid: ContainerId, kind: number): JSONValue {
  switch (kind) {
    case 1: return renderMap(doc, cid);
    case 2: return renderList(doc, cid);
    case 3: {
      const text = doc._texts.get(ckey(cid));
      return text !== undefined ? text.toString() : "";
    }
    case 4: return Number(doc._counters.get(ckey(cid)) ?? 0n);
    default: return doc._sets.get(ckey(cid))?.values() ?? [];
  }
}

/** The JSON view of what a map's `key` holds. */
export function renderValue(doc: Document, mapId: ContainerId, key: string, value: MapValue): JSONValue {
  if (value instanceof Child) return render(doc, [mapId, key, value.epoch], value.kind);
  return cloneJson(value as JSONValue);
}

/** The JSON view of map `cid`. */
export function renderMap(doc: Document, cid: ContainerId): { [key: string]: JSONValue } {
  const out: { [key: string]: JSONValue } = {};
  const state = doc._maps.get(ckey(cid));
  if (state === undefined) return out;
  for (const [key, value] of state.visible()) setProp(out, key, renderValue(doc, cid, key, value));
  return out;
}

/** The JSON view of list `cid`. */
export function renderList(doc: Document, cid: ContainerId): JSONValue[] {
  const state = doc._lists.get(ckey(cid));
  if (state === undefined) return [];
  return state.visibleItems().map(([id, item]) =>
    item.value instanceof Child ? render(doc, [cid, id], item.value.kind) : cloneJson(item.value));
}

/**
 * Where container `cid` is now: its top-level name, then a key per map and an index per
 * list. Null when it is not shown (its key overwritten or deleted, its item deleted).
 */
export function pathOf(doc: Document, cid: ContainerId): Path | null {
  const steps: (string | number)[] = [];
  while (typeof cid !== "string") {
    const parent: ContainerId = cid[0];
    if (cid.length === 3) {
      const entry = doc._maps.get(ckey(parent))?.entries.get(cid[1]);
      const value = entry !== undefined ? entry[4] : DELETED;
      const epoch = cid[2];
      if (!(value instanceof Child)) return null;
      const e = value.epoch;
      if (e === null ? epoch !== null : epoch === null || e[0] !== epoch[0] || e[1] !== epoch[1]) return null;
      steps.push(cid[1]);
    } else {
      const index = doc._lists.get(ckey(parent))?.indexOf(cid[1]) ?? null;
      if (index === null) return null;
      steps.push(index);
    }
    cid = parent;
  }
  steps.push(cid);
  return steps.reverse();
}

/**
 * A string that names container `cid` the same way on every replica (cursors carry it): a
 * top-level container's name; a nested one's, U+0000 and a JSON array leading to it, with
 * client id strings.
 */
export function labelOf(doc: Document, cid: ContainerId): string {
  if (typeof cid === "string") return cid;
  return "\u0000" + pyJsonAscii(chain(doc, cid));
}

function chain(doc: Document, cid: ContainerId): unknown {
  if (typeof cid === "string") return cid;
  const parent = chain(doc, cid[0]);
  if (cid.length === 3) {
    const epoch = cid[2];
    return epoch === null ? [parent, cid[1], null, 0] : [parent, cid[1], doc._clients[epoch[0]], epoch[1]];
  }
  return [parent, doc._clients[cid[1][0]], cid[1][1]];
}

/** `json.dumps(value, separators=(",", ":"))` with Python's default `ensure_ascii=True`. */
function pyJsonAscii(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}
