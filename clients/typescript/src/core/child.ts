/**
 * Nested containers: the value a map key or list item holds when it is a container, and
 * handles on them (Python: `Child`, `child_handle` and `MAX_DEPTH` of `_map.py`).
 */
import type { Counter } from "./counter.js";
import type { Document } from "./document.js";
import type { ContainerId, ItemId } from "./ids.js";
import type { List } from "./list.js";
import type { SyncMap } from "./map.js";
import { CHILD_KINDS } from "./ops.js";
import type { ORSet } from "./orset.js";
import type { Text } from "./textHandle.js";

/** How deep containers may nest (a top-level container is at depth 0). */
export const MAX_DEPTH = 32;

/** The value of a map key or list item that is a nested container. */
export class Child {
  /**
   * @param kind - the child kind (1 map, 2 list, 3 text, 4 counter, 5 set).
   * @param epoch - in a map, the write the creation replaced (null: none).
   */
  constructor(readonly kind: number, readonly epoch: ItemId | null = null) {}

  /** The kind's name. */
  get kindName(): string {
    return CHILD_KINDS[this.kind - 1] as string;
  }
}

/** A handle on a nested container. */
export type ChildHandle = SyncMap | List | Text | Counter | ORSet;

type Factory = (doc: Document, cid: ContainerId) => ChildHandle;
const factories: (Factory | undefined)[] = [];

/** @internal Register the handle class of child kind `kind` (modules do at load time). */
export function registerHandle(kind: number, factory: Factory): void {
  factories[kind - 1] = factory;
}

/** A handle of the right class on container `cid` of child kind `kind`. */
export function childHandle(doc: Document, cid: ContainerId, kind: number): ChildHandle {
  const factory = factories[kind - 1];
  if (factory === undefined) throw new Error(`no handle for container kind ${kind}`);
  return factory(doc, cid);
}
