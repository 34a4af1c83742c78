/**
 * What a document being loaded knows about who saw what (Python: `History` of
 * `_text/_load_checks.py`, the part the document's own checks use).
 */
import type { ItemId } from "./ids.js";
import { bisectRight } from "./ops.js";

/** A dependency checkpoint: the first seq it covers and the versions of others it saw. */
export type Checkpoint = readonly [start: number, deps: ReadonlyMap<number, number>];

/** The version and dependency checkpoints of a document, for checking loaded references. */
export class History {
  /** Per client, the seqs its text items and deletes take, as sorted `[firsts, lasts]` runs. */
  readonly used = new Map<number, [number[], number[]][]>();

  /**
   * @param version - per client index, its highest seq.
   * @param checkpoints - per client index, its checkpoints in seq order.
   */
  constructor(readonly version: number[], readonly checkpoints: Checkpoint[][]) {}

  /** Whether `client`'s operation `seq` could refer to `item`. */
  saw(client: number, seq: number, item: ItemId): boolean {
    const [other, otherSeq] = item;
    if (other === client) return otherSeq < seq;
    const cps = this.checkpoints[client] as Checkpoint[];
    const k = bisectRight(cps, seq, (cp) => cp[0]);
    return k > 0 && otherSeq <= ((cps[k - 1] as Checkpoint)[1].get(other) ?? 0);
  }

  /** Whether `client`'s delete run from `seq` could refer to `other`'s items from `first`. */
  sawRun(client: number, seq: number, other: number, first: number, count: number): boolean {
    const cps = this.checkpoints[client] as Checkpoint[];
    const last = seq + Math.abs(count) - 1;
    const inside: number[] = [];
    for (let k = bisectRight(cps, seq, (cp) => cp[0]); k < bisectRight(cps, last, (cp) => cp[0]); k++) {
      inside.push((cps[k] as Checkpoint)[0]);
    }
    if (count > 0) {
      return [...inside.map((s) => s - 1), last].every((end) => this.saw(client, end, [other, first + end - seq]));
    }
    return [seq, ...inside].every((start) => this.saw(client, start, [other, first - (start - seq)]));
  }
}
