/**
 * Spent dependency checkpoints: those whose operations the document no longer holds
 * (Python `synckit.core._spent`, which writes the same checkpoints).
 *
 * When every operation in one of a client's checkpoint ranges is gone (field writes that
 * later writes overwrote, sent as SKIPs), the checkpoint is dropped: the range's seqs go with
 * the checkpoint before it, and its dependencies are added to the next checkpoint that stays
 * (each client's newest always stays), so every operation still held comes after all its
 * author had seen. A SKIP changes no state and nothing refers to it, so applying one before
 * what its writer had seen cannot be observed. A range with a text operation is never spent.
 *
 * @module
 */
import { NO_DEPS } from "./codec.js";
import type { Document } from "./document.js";
import { SKIP } from "./ops.js";
import { bisectLeft } from "./text/block.js";
import { holdsSeqs } from "./text/history.js";
import type { Checkpoint } from "./text/index.js";

/** Drop `doc`'s spent checkpoints (see the module comment); how many went. */
export function dropSpent(doc: Document): number {
  const all = doc._checkpoints;
  // Clients with a checkpoint before their newest: only those can lose one.
  const held = new Map<number, number[]>(); // client -> seqs of operations held (each takes one)
  all.forEach((cps, c) => {
    if (cps.length > 1) held.set(c, []);
  });
  if (held.size === 0) return 0;
  for (const [, writer, seq] of doc._fields.values()) held.get(writer)?.push(seq);
  for (const [c, seqs] of held) {
    for (const op of doc._log[c] ?? []) if (op[0] !== SKIP) seqs.push(op[1]);
  }
  const texts = [...doc._texts.values()];
  let dropped = 0;
  for (const [c, seqs] of held) {
    seqs.sort((a, b) => a - b);
    const cps = all[c] as Checkpoint[];
    // The newest checkpoint of an operation made stays (a reserved one after it stays too).
    let last = cps.length - 1;
    const top = doc._vv[c] as number;
    while (last > 0 && (cps[last] as Checkpoint)[0] > top) last--;
    const kept: Checkpoint[] = [];
    let carried: Map<number, number> | null = null; // dependencies of dropped ones, to pass on
    cps.forEach(([start, deps], i) => {
      if (i < last) {
        const end = (cps[i + 1] as Checkpoint)[0] - 1;
        const k = bisectLeft(seqs, start);
        if ((k === seqs.length || (seqs[k] as number) > end) && !texts.some((t) => holdsSeqs(t, c, start, end))) {
          // Nothing held from `start` to the next checkpoint: spent.
          if (carried === null) carried = new Map(deps);
          else for (const [d, s] of deps) if ((carried.get(d) ?? 0) < s) carried.set(d, s);
          return;
        }
      }
      if (carried !== null) {
        const merged: Map<number, number> = new Map(carried);
        for (const [d, s] of deps) if ((merged.get(d) ?? 0) < s) merged.set(d, s);
        const sorted = new Map([...merged].sort((a, b) => a[0] - b[0]));
        deps = sorted.size ? sorted : NO_DEPS;
        carried = null;
      }
      kept.push([start, deps]);
    });
    if (kept.length < cps.length) {
      dropped += cps.length - kept.length;
      all[c] = kept;
    }
  }
  return dropped;
}
