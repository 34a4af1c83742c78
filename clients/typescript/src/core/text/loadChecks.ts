/**
 * Load checks: a decoded text state against the history of the document loading it
 * (Python: `synckit.core._text._load_checks`).
 *
 * Given the document's version and dependency checkpoints ({@link History}), a decoded
 * text must fit them: every item and delete within its client's version, and everything
 * an operation refers to made before it (by its own client earlier, or within what it
 * depended on). Otherwise a hostile snapshot could load into a document whose later
 * changes other replicas refuse. `codec.ts` runs these checks after its structural ones.
 *
 * @module
 */

import type { ItemId } from "../ids.js";
import { InvalidValueError } from "../../errors.js";
import type { DeleteLog } from "./ops.js";
import type { Keys } from "./codec.js";
import { bisectLeft, bisectRight, sortedNumbers } from "./block.js";

/** One dependency checkpoint: `[first seq, Map(client -> seq)]`. */
export type Checkpoint = readonly [first: number, deps: ReadonlyMap<number, number>];

/** What the document holding a text knows, for checking a decoded text state (Python `History`). */
export class History {
  /**
   * @param version - per client index, its highest seq.
   * @param checkpoints - per client index, its dependency checkpoints in seq order (before
   *   the first one, or with none, it depended on nothing).
   * @param used - filled in by `TextState.decodeState`: per client, the seqs its items and
   *   its deletes take, as sorted `[firsts, lasts]` runs (one pair per kind), so that the
   *   document can check them against its other operations.
   */
  constructor(
    public version: number[],
    public checkpoints: Checkpoint[][],
    public used: Map<number, [number[], number[]][]> = new Map(),
  ) {}

  /** How many of `client`'s checkpoints start at or before `seq`. */
  private upTo(client: number, seq: number): number {
    const cps = this.checkpoints[client] ?? [];
    let lo = 0;
    let hi = cps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cps[mid]![0] <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Whether `client`'s operation `seq` could refer to `item`: an earlier operation of its
   * own, or one within what it depended on (its checkpoint). Python `saw`.
   */
  saw(client: number, seq: number, item: ItemId): boolean {
    const [other, otherSeq] = item;
    if (other === client) return otherSeq < seq;
    const cps = this.checkpoints[client] ?? [];
    const k = this.upTo(client, seq);
    return k > 0 && otherSeq <= (cps[k - 1]![1].get(other) ?? 0);
  }

  /**
   * Whether each of `client`'s operations `first..last` could refer to `item` (another
   * client's), as the right origin every character of an item shares: checked at `first`
   * and at each checkpoint of `client` inside the run, where its dependencies change (and
   * where `changes` cuts the item in two). Python checks the same from the checkpoints
   * (`_check_right_origins_inside`).
   */
  sawThroughout(client: number, first: number, last: number, item: ItemId): boolean {
    if (!this.saw(client, first, item)) return false;
    const cps = this.checkpoints[client] ?? [];
    for (let k = this.upTo(client, first); k < cps.length && cps[k]![0] <= last; k++) {
      if (!this.saw(client, cps[k]![0], item)) return false;
    }
    return true;
  }

  /**
   * Whether `client`'s delete run could refer to `other`'s items: operation `seq + k`
   * deletes item `first + k` (`first - k` when `count < 0`), for `k` below `|count|`.
   * Python `saw_run`.
   */
  sawRun(client: number, seq: number, other: number, first: number, count: number): boolean {
    const cps = this.checkpoints[client] ?? [];
    const last = seq + Math.abs(count) - 1;
    const inside: number[] = [];
    for (let k = this.upTo(client, seq); k < this.upTo(client, last); k++) inside.push(cps[k]![0]);
    if (count > 0) {
      return [...inside.map((start) => start - 1), last].every((end) => this.saw(client, end, [other, first + end - seq]));
    }
    return [seq, ...inside].every((start) => this.saw(client, start, [other, first - (start - seq)]));
  }
}

/** Appends a `[firsts, lasts]` pair to `used[c]`. */
function addUsed(used: Map<number, [number[], number[]][]>, c: number, pair: [number[], number[]]): void {
  let list = used.get(c);
  if (list === undefined) {
    list = [];
    used.set(c, list);
  }
  list.push(pair);
}

/**
 * @internal InvalidValueError unless the items and deletes fit the document's version and
 * dependencies (Python `_check_history`). Fills `history.used`.
 */
export function checkHistory(
  history: History,
  clients: readonly number[],
  single: number | null,
  items: readonly [number[], number[], number[]],
  keys: Keys,
  originCols: readonly [number[], number[], number[], number[]],
  dels: ReadonlyMap<number, DeleteLog>,
): void {
  const vv = history.version;
  const used = history.used;
  const [seqs, lasts, lens] = items;
  const [fk, lk, shift] = keys;
  const n = seqs.length;
  const owners = single !== null ? [single] : [...new Set(clients)].sort((a, b) => a - b);
  for (const c of owners) {
    const top = single !== null ? lk[lk.length - 1]! : lk[bisectLeft(lk, (c + 1) * shift) - 1]!;
    if (top - c * shift > (vv[c] ?? 0)) {
      throw new InvalidValueError("text state: an item lies beyond the document's version");
    }
  }
  for (const [right, ocs, oss] of [
    [false, originCols[0], originCols[1]],
    [true, originCols[2], originCols[3]],
  ] as const) {
    for (let i = 0; i < n; i++) {
      const oc = ocs[i]!;
      const c = clients[i]!;
      if (single !== null || oc === c) {
        if (oss[i]! >= seqs[i]!) throw new InvalidValueError("text state: an origin is not older than its item");
      }
    }
    if (single !== null) continue;
    for (let i = 0; i < n; i++) {
      const oc = ocs[i]!;
      const c = clients[i]!;
      if (oc === c || oc < 0) continue;
      // A left origin is the first character's only (the others follow their own client's
      // previous one); a right origin is every character's.
      const origin: ItemId = [oc, oss[i]!];
      if (right ? !history.sawThroughout(c, seqs[i]!, lasts[i]!, origin) : !history.saw(c, seqs[i]!, origin)) {
        throw new InvalidValueError(
          "text state: an origin of another client is not among what its item depended on",
        );
      }
    }
  }
  if (single !== null) {
    addUsed(used, single, [fk, lk]);
  } else {
    for (const c of owners) {
      const lo = bisectLeft(fk, c * shift);
      const hi = bisectLeft(fk, (c + 1) * shift);
      const base = c * shift;
      addUsed(used, c, [fk.slice(lo, hi).map((k) => k - base), lk.slice(lo, hi).map((k) => k - base)]);
    }
  }
  if (![...dels.values()].some((log) => log.seqs.length)) {
    if (lens.some((l) => l < 0)) {
      throw new InvalidValueError("text state: a character is deleted but no delete deleted it");
    }
    return;
  }
  // Deleted characters: tombstone items, first key -> last key.
  const tomb = new Map<number, number>();
  let deadChars = 0;
  for (let i = 0; i < n; i++) {
    if (lens[i]! < 0) {
      const base = single === null ? clients[i]! * shift : 0;
      tomb.set(base + seqs[i]!, base + lasts[i]!);
      deadChars -= lens[i]!;
    }
  }
  const allLows: number[] = [];
  const allHighs: number[] = [];
  for (const [c, log] of dels) {
    const m = log.seqs.length;
    if (!m) continue;
    const at = log.seqs;
    const counts = log.counts;
    const firsts = log.firsts;
    const targets = log.targets;
    const lows: number[] = [];
    const highs: number[] = [];
    const ends: number[] = [];
    for (let q = 0; q < m; q++) {
      const cnt = counts[q]!;
      const span = Math.abs(cnt) - 1;
      const low = firsts[q]! - (cnt < 0 ? span : 0);
      lows.push(low);
      highs.push(low + span);
      ends.push(at[q]! + span);
    }
    if (at[0]! < 1 || ends[m - 1]! > (vv[c] ?? 0)) {
      throw new InvalidValueError("text state: a delete lies beyond the document's version");
    }
    addUsed(used, c, [at, ends]);
    if (single !== null) {
      if (targets.some((t) => t !== single)) {
        throw new InvalidValueError("text state: a delete targets a character that is not there");
      }
    } else {
      if (highs.some((h) => h >= shift)) {
        throw new InvalidValueError("text state: a delete targets a character that is not there");
      }
      for (let q = 0; q < m; q++) {
        lows[q] = lows[q]! + targets[q]! * shift;
        highs[q] = highs[q]! + targets[q]! * shift;
      }
    }
    // Each target range lies inside deleted characters.
    for (let q = 0; q < m; q++) {
      const lo = lows[q]!;
      const hi = highs[q]!;
      if (!(hi > (tomb.get(lo) ?? -1))) continue;
      const first = lo >= fk[0]! ? fk[bisectRight(fk, lo) - 1]! : -1;
      let end = tomb.get(first) ?? -1;
      while (lo <= end && end < hi) end = tomb.get(end + 1) ?? -1;
      if (end < hi) {
        throw new InvalidValueError("text state: a delete targets a character that is not a deleted one");
      }
    }
    for (let q = 0; q < m; q++) {  // (no push(...lows): a long spread overflows the stack)
      allLows.push(lows[q]!);
      allHighs.push(highs[q]!);
    }
    // Its own client's characters: made before the delete (a lower seq).
    if (c === single) {
      if (highs.some((h, q) => h >= at[q]!)) {
        throw new InvalidValueError("text state: a delete targets a character made after it");
      }
      continue;
    }
    const key = c * shift;
    for (let q = 0; q < m; q++) {
      if (targets[q] === c && highs[q]! >= at[q]! + key) {
        throw new InvalidValueError("text state: a delete targets a character made after it");
      }
    }
    // Another client's: within what the delete depended on.
    for (let q = 0; q < m; q++) {
      if (targets[q] !== c && !history.sawRun(c, at[q]!, targets[q]!, firsts[q]!, counts[q]!)) {
        throw new InvalidValueError(
          "text state: a delete targets a character of another client that it did not depend on",
        );
      }
    }
  }
  // And every deleted character was deleted by one.
  if (unionSize(allLows, allHighs) !== deadChars) {
    throw new InvalidValueError("text state: a character is deleted but no delete deleted it");
  }
}

/**
 * How many ints the ranges `lows[i]..highs[i]` cover together: a sweep over the sorted
 * starts and the sorted ends (each range adds 1 to the cover from `lows[i]` to `highs[i]`
 * inclusive), so no pairs need sorting.
 */
function unionSize(lows: readonly number[], highs: readonly number[]): number {
  const n = lows.length;
  if (!n) return 0;
  const starts = sortedNumbers(lows);
  const ends = sortedNumbers(highs); // a range stops covering after its end
  let total = 0;
  let depth = 0;
  let from = 0; // where the current covered stretch began
  let a = 0;
  let b = 0;
  while (b < n) {
    if (a < n && starts[a]! <= ends[b]!) {
      if (depth === 0) from = starts[a]!;
      depth += 1;
      a += 1;
    } else {
      depth -= 1;
      if (depth === 0) total += ends[b]! - from + 1;
      b += 1;
    }
  }
  return total;
}
