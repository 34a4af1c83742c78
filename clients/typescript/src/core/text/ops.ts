/**
 * The operations a text is made of, and the per-client delete log
 * (Python: `synckit.core._text._history`, its types and `_DeleteLog`).
 *
 * @module
 */

import type { ItemId } from "../ids.js";

/** `["i", seq, originLeft, originRight, content]` (Python `InsertOp`; `null`: no origin). */
export type InsertOp = readonly [kind: "i", seq: number, left: ItemId | null, right: ItemId | null, content: string];

/**
 * `["d", seq, targetClient, targetFirst, signedCount]` (Python `DeleteOp`): deletes
 * `first, first+1, ...` (count > 0) or `first, first-1, ...` (count < 0, a backspace run).
 */
export type DeleteOp = readonly [kind: "d", seq: number, targetClient: number, targetFirst: number, count: number];

/** An insert or a delete (Python `TextOp`). */
export type TextOp = InsertOp | DeleteOp;

/** Stands for the content of deleted characters in `opsSince`. */
export const PLACEHOLDER = "\x00";

/** One client's delete operations: run-length-encoded runs sorted by seq. */
export class DeleteLog {
  /** Seq of each run's first operation. */
  seqs: number[] = [];
  /** Target client of each run. */
  targets: number[] = [];
  /** First target seq of each run. */
  firsts: number[] = [];
  /** Signed counts: < 0 is a backspace run. */
  counts: number[] = [];

  /** Adds the run `seq: (target, first) x count`, merging it into the last run if it continues it. */
  add(seq: number, target: number, first: number, count: number): void {
    const seqs = this.seqs;
    const m = seqs.length;
    if (m && this.targets[m - 1] === target) {
      const c0 = this.counts[m - 1]!;
      const a0 = c0 > 0 ? c0 : -c0;
      if (seqs[m - 1]! + a0 === seq) {
        const f0 = this.firsts[m - 1]!;
        if (c0 > 0 && count > 0 && f0 + c0 === first) {
          this.counts[m - 1] = c0 + count;
          return;
        }
        if ((c0 < 0 || c0 === 1) && (count < 0 || count === 1) && f0 - a0 === first) {
          this.counts[m - 1] = -(a0 + (count > 0 ? count : -count));
          return;
        }
      }
    }
    seqs.push(seq);
    this.targets.push(target);
    this.firsts.push(first);
    this.counts.push(count === -1 ? 1 : count);
  }
}
