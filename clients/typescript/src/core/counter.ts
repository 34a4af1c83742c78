/**
 * The counter container's handle: a PN-counter whose state is one number per name
 * (Python: `_counter.py`).
 */
import { InvalidTypeError } from "../errors.js";
import type { Document } from "./document.js";
import { ckey, type ContainerId } from "./ids.js";
import { COUNTER_ADD } from "./ops.js";

/** A PN-counter: concurrent increments and decrements all count. Deltas are integers. */
export class Counter {
  /** @internal */
  constructor(private readonly doc: Document, private readonly name: ContainerId) {}

  /** The sum of every increment and decrement this replica holds. */
  get value(): number {
    return this.doc._counters.get(ckey(this.name)) ?? 0;
  }

  /** Add `n` (a safe integer; may be negative). */
  increment(n = 1): void {
    if (!Number.isSafeInteger(n)) throw new InvalidTypeError(`counter deltas must be integers, got ${String(n)}`);
    const doc = this.doc;
    doc._checkKind(this.name, "counter");
    const seq = doc._nextSeq();
    doc._counterAdd(this.name, n);
    doc._record([COUNTER_ADD, seq, this.name, n]);
  }

  /** Subtract `n` (a safe integer). */
  decrement(n = 1): void {
    if (!Number.isSafeInteger(n)) throw new InvalidTypeError(`counter deltas must be integers, got ${String(n)}`);
    this.increment(-n);
  }
}
