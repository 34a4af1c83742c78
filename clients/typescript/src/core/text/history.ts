/**
 * `opsSince`: the operations of one client after a seq, rebuilt from the items and the
 * delete log (Python: `synckit.core._text._history._OpHistory`).
 *
 * Insert operations need no log: the items of a client sorted by seq are its insert
 * history (content of deleted runs is replaced by {@link PLACEHOLDER}s, one per code
 * point; adjacent items that continue each other come out as one op): the id index lists
 * them. Deletes come from
 * the per-client delete log. The latest local op is kept, so asking for "everything after
 * my previous version" right after a keystroke answers without a scan.
 *
 * @module
 */

import { type ItemId, sameId } from "../ids.js";
import { type Block, bisectRight } from "./block.js";
import type { TextBase } from "./base.js";
import { PLACEHOLDER, type InsertOp, type TextOp } from "./ops.js";

/** Client `client`'s text operations with a seq above `after`, in seq order. */
export function opsSince(state: TextBase, client: number, after: number): TextOp[] {
  const recent = state._recent;
  if (recent !== null && recent.client === client && recent.prevEnd <= after) {
    // Only the latest local op (or nothing) is newer than `after`.
    if (after < recent.first) return [...recent.ops];
    if (after >= recent.last) return [];
  }
  const ops: TextOp[] = [];
  const ci = state._ensureIndex().get(client);
  const starts = ci?.starts ?? [];
  let prev: InsertOp | null = null;
  let prevLen = 0; // code points in prev's content
  // Visible offset of every item, per block met.
  const offsets = new Map<Block, number[]>();
  for (let q = Math.max(bisectRight(starts, after) - 1, 0); q < starts.length; q++) {
    const start = starts[q]!;
    const blk = ci!.owners[q]!;
    const i = blk.find(client, start);
    let s = start;
    const li = blk.lens[i]!;
    let content: string[];
    if (li > 0) {
      let offs = offsets.get(blk);
      if (offs === undefined) {
        offs = [0];
        let acc = 0;
        for (const l of blk.lens) {
          if (l > 0) acc += l;
          offs.push(acc);
        }
        offsets.set(blk, offs);
      }
      const o = offs[i]!;
      content = blk.text.slice(o, o + li);
    } else {
      content = new Array<string>(-li).fill(PLACEHOLDER);
    }
    const e = s + content.length;
    if (e - 1 <= after) continue;
    const lc = blk.lcs[i]!;
    let left: ItemId | null = lc < 0 ? null : [lc, blk.lss[i]!];
    const rc = blk.rcs[i]!;
    const right: ItemId | null = rc < 0 ? null : [rc, blk.rss[i]!];
    if (s <= after) {
      content = content.slice(after + 1 - s);
      left = [client, after];
      s = after + 1;
    }
    const text = content.join("");
    if (
      prev !== null &&
      prev[1] + prevLen === s &&
      left !== null &&
      left[0] === client &&
      left[1] === s - 1 &&
      sameId(prev[3], right)
    ) {
      prev = ["i", prev[1], prev[2], right, prev[4] + text];
      prevLen += content.length;
      ops[ops.length - 1] = prev;
    } else {
      prev = ["i", s, left, right, text];
      prevLen = content.length;
      ops.push(prev);
    }
  }
  const log = state._dels.get(client);
  if (log !== undefined) {
    const seqs = log.seqs;
    for (let q = 0; q < seqs.length; q++) {
      let s = seqs[q]!;
      let cnt = log.counts[q]!;
      const a = cnt > 0 ? cnt : -cnt;
      if (s + a - 1 <= after) continue;
      let f = log.firsts[q]!;
      if (s <= after) {
        const t = after + 1 - s;
        if (cnt > 0) {
          f += t;
          cnt -= t;
        } else {
          f -= t;
          cnt += t;
        }
        s = after + 1;
        if (cnt === -1) cnt = 1;
      }
      ops.push(["d", s, log.targets[q]!, f, cnt]);
    }
    ops.sort((x, y) => x[1] - y[1]);
  }
  return ops;
}

/**
 * Per client, the `[first seq, last seq]` of each of its items and delete runs in the text,
 * in no order: the seqs of the operations {@link opsSince} sends (which may merge adjacent
 * items into one operation, never split one). Python: `_OpHistory.op_runs`.
 */
export function opRuns(state: TextBase): Map<number, [number, number][]> {
  const runs = new Map<number, [number, number][]>();
  const add = (c: number, first: number, count: number): void => {
    let list = runs.get(c);
    if (list === undefined) runs.set(c, (list = []));
    list.push([first, first + Math.abs(count) - 1]);
  };
  for (const blk of state._blocks) {
    for (let i = 0; i < blk.lens.length; i++) add(blk.clients[i]!, blk.seqs[i]!, blk.lens[i]!);
  }
  for (const [c, log] of state._dels) {
    for (let q = 0; q < log.seqs.length; q++) add(c, log.seqs[q]!, log.counts[q]!);
  }
  return runs;
}

/**
 * Whether an operation of `client` in this text (an item or a delete run) takes a seq from
 * `first` to `last` (Python `_OpHistory.holds_seqs`).
 */
export function holdsSeqs(state: TextBase, client: number, first: number, last: number): boolean {
  const ci = state._ensureIndex().get(client);
  if (ci !== undefined) {
    const q = bisectRight(ci.starts, last) - 1;
    if (q >= 0) {
      const s = ci.starts[q]!;
      if (s >= first) return true;
      // The item before: does it reach `first`? (Its length is in its block.)
      const blk = ci.owners[q]!;
      if (s + Math.abs(blk.lens[blk.find(client, s)]!) - 1 >= first) return true;
    }
  }
  const log = state._dels.get(client);
  if (log !== undefined) {
    const q = bisectRight(log.seqs, last) - 1;
    if (q >= 0 && log.seqs[q]! + Math.abs(log.counts[q]!) - 1 >= first) return true;
  }
  return false;
}
