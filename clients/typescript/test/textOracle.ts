/**
 * The text CRDT in one sitting: a port of `tests/core/text_oracle.py`, the reference the
 * tests check TextState against. One item per character, kept in an array in document
 * order, found by linear scans; ties compare client id strings by code point.
 */
import type { ItemId } from "../src/core/ids.js";
import type { TextOp } from "../src/core/text/index.js";

type Item = [id: ItemId, left: ItemId | null, right: ItemId | null];

const key = (id: ItemId): string => `${id[0]}:${id[1]}`;

/** Python-style string order (by code point). */
function less(a: string, b: string): boolean {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return x.length < y.length;
}

/** One item per character, linear scans: a direct transcription of the YjsMod rules. */
export class RefText {
  items: Item[] = [];
  chars = new Map<string, string>();
  deleted = new Set<string>();

  constructor(readonly names: readonly string[]) {}

  private index(item: ItemId | null, dflt: number): number {
    if (item === null) return dflt;
    const i = this.items.findIndex((it) => it[0][0] === item[0] && it[0][1] === item[1]);
    if (i < 0) throw new Error(`unknown ${key(item)}`);
    return i;
  }

  integrate(item: ItemId, left: ItemId | null, right: ItemId | null): void {
    const n = this.items.length;
    const lpos = this.index(left, -1);
    const rpos = this.index(right, n);
    let dest = lpos + 1;
    let scanning = false;
    let i = dest;
    for (;;) {
      if (!scanning) dest = i;
      if (i === n || i === rpos) break;
      const [oid, oleft, oright] = this.items[i]!;
      const ol = this.index(oleft, -1);
      const orr = this.index(oright, n);
      if (ol < lpos) break;
      if (ol === lpos) {
        if (orr < rpos) scanning = true;
        else if (orr === rpos) {
          if (less(this.names[item[0]]!, this.names[oid[0]]!)) break;
          scanning = false;
        } else scanning = false;
      }
      i += 1;
    }
    this.items.splice(dest, 0, [item, left, right]);
  }

  /** Apply client `c`'s op. */
  apply(c: number, op: TextOp): void {
    if (op[0] === "i") {
      const [, seq, left, right, content] = op;
      Array.from(content).forEach((ch, k) => {
        this.integrate([c, seq + k], k === 0 ? left : [c, seq + k - 1], right);
        this.chars.set(key([c, seq + k]), ch);
      });
    } else {
      const [, , tc, tf, cnt] = op;
      const step = cnt > 0 ? 1 : -1;
      for (let k = 0; k < Math.abs(cnt); k++) this.deleted.add(key([tc, tf + k * step]));
    }
  }

  toString(): string {
    return this.items
      .filter((it) => !this.deleted.has(key(it[0])))
      .map((it) => this.chars.get(key(it[0]))!)
      .join("");
  }
}
