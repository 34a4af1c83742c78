/**
 * The counter container's handle: a PN-counter whose state is one total per name
 * (Python: `_counter.py`). Totals are kept exactly (`bigint`), as Python's ints are.
 */
import { InvalidTypeError, InvalidValueError } from "../errors.js";
import type { Document } from "./document.js";
import { ckey, type ContainerId } from "./ids.js";
import { COUNTER_ADD } from "./ops.js";

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function delta(n: number | bigint): bigint {
  if (typeof n === "bigint") {
    if (n < INT64_MIN || n > INT64_MAX) throw new InvalidValueError(`counter deltas must fit 64 bits, got ${n}`);
    return n;
  }
  if (!Number.isSafeInteger(n)) throw new InvalidTypeError(`counter deltas must be integers, got ${String(n)}`);
  return BigInt(n);
}

/** A PN-counter: concurrent increments and decrements all count. Deltas are integers. */
export class Counter {
  /** @internal */
  constructor(private readonly doc: Document, private readonly name: ContainerId) {}

  /** The sum of every increment and decrement this replica holds (rounded past 2^53). */
  get value(): number {
    return Number(this.exact);
  }

  /** The sum, exactly. */
  get exact(): bigint {
    return this.doc._counters.get(ckey(this.name)) ?? 0n;
  }

  /** Add `n` (a safe integer, or a 64-bit `bigint`; may be negative). */
  increment(n: number | bigint = 1): void {
    const d = delta(n);
    const doc = this.doc;
    doc._checkKind(this.name, "counter");
    const seq = doc._nextSeq();
    doc._counterAdd(this.name, d);
    doc._record([COUNTER_ADD, seq, this.name, d]);
  }

  /** Subtract `n` (a safe integer, or a 64-bit `bigint`). */
  decrement(n: number | bigint = 1): void {
    this.increment(-delta(n));
  }
}
