/**
 * The set container: observed-remove set state, where add wins over a concurrent remove,
 * and its handle (Python: `_orset.py`).
 */
import { NotFoundError } from "../errors.js";
import type { Document } from "./document.js";
import { ckey, type ContainerId, type ItemId } from "./ids.js";
import { SET_ADD, SET_REMOVE } from "./ops.js";
import { checkScalar, compareStr, scalarKey, scalarTag, type JSONScalar } from "./values.js";

/** The map key of an add tag. */
export function tagKey(t: ItemId): string {
  return `${t[0]}:${t[1]}`;
}

/** The live members of one set container and the add tags keeping each alive. */
export class ORSetState {
  /** @internal scalar key to [member, tags by tagKey]. */
  readonly members = new Map<string, [JSONScalar, Map<string, ItemId>]>();

  /** Add `member` with `tag` (`raw`: its Python text, when it came from another replica). */
  add(member: JSONScalar, tag: ItemId, raw?: string): void {
    const key = scalarKey(member, raw);
    const entry = this.members.get(key);
    if (entry === undefined) this.members.set(key, [member, new Map([[tagKey(tag), tag]])]);
    else entry[1].set(tagKey(tag), tag);
  }

  /** Remove the `tags` of `member` (`raw`: as for {@link add}). */
  remove(member: JSONScalar, tags: readonly ItemId[], raw?: string): void {
    const key = scalarKey(member, raw);
    const entry = this.members.get(key);
    if (entry === undefined) return;
    for (const t of tags) entry[1].delete(tagKey(t));
    if (entry[1].size === 0) this.members.delete(key);
  }

  /** The tags a local remove of `member` must name, sorted (empty when absent). */
  tags(member: JSONScalar): ItemId[] {
    const entry = this.members.get(scalarKey(member));
    if (entry === undefined) return [];
    return [...entry[1].values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  /** Whether `member` is in the set. */
  has(member: JSONScalar): boolean {
    return this.members.has(scalarKey(member));
  }

  /** How many members. */
  get size(): number {
    return this.members.size;
  }

  /** Members in a replica-independent order (by type, then value), as Python's. */
  values(): JSONScalar[] {
    return [...this.members]
      .sort(([ka, [a]], [kb, [b]]) => compareScalars(a, b, ka[0] as string, kb[0] as string))
      .map(([, [member]]) => member);
  }
}

/** Python's order of set members: type tag ("b" < "f" < "i" < "n" < "s"), then value. */
export function compareScalars(a: JSONScalar, b: JSONScalar, ta = scalarTag(a), tb = scalarTag(b)): number {
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (typeof a === "string") return compareStr(a, b as string);
  if (a === null) return 0;
  return a < (b as number | boolean) ? -1 : a > (b as number | boolean) ? 1 : 0;
}

/** An observed-remove set of JSON scalars; an add wins over a concurrent remove. */
export class ORSet {
  /** @internal */
  constructor(private readonly doc: Document, private readonly name: ContainerId) {}

  private state(): ORSetState | undefined {
    return this.doc._sets.get(ckey(this.name));
  }

  /** Add `member` (null, boolean, finite number or string). */
  add(member: JSONScalar): void {
    member = checkScalar(member);
    const doc = this.doc;
    doc._checkKind(this.name, "set");
    const seq = doc._nextSeq();
    doc._setState(this.name).add(member, [doc._me, seq]);
    doc._record([SET_ADD, seq, this.name, member]);
  }

  /** Remove `member`; {@link NotFoundError} when it is not in the set. */
  remove(member: JSONScalar): void {
    member = checkScalar(member);
    const state = this.state();
    if (state === undefined || !state.has(member)) throw new NotFoundError(String(member));
    this.removeFrom(state, member);
  }

  /** Remove `member` if present. */
  discard(member: JSONScalar): void {
    member = checkScalar(member);
    const state = this.state();
    if (state !== undefined && state.has(member)) this.removeFrom(state, member);
  }

  private removeFrom(state: ORSetState, member: JSONScalar): void {
    const doc = this.doc;
    const tags = state.tags(member);
    const seq = doc._nextSeq();
    state.remove(member, tags);
    doc._record([SET_REMOVE, seq, this.name, member, tags]);
  }

  /** Whether `member` is in the set. */
  has(member: unknown): boolean {
    const state = this.state();
    try {
      return state !== undefined && state.has(checkScalar(member));
    } catch {
      return false;
    }
  }

  /** How many members. */
  get size(): number {
    return this.state()?.size ?? 0;
  }

  /** The members, in the same order on every replica. */
  values(): JSONScalar[] {
    return this.state()?.values() ?? [];
  }

  /** Iterate over the members. */
  [Symbol.iterator](): Iterator<JSONScalar> {
    return this.values()[Symbol.iterator]();
  }
}
