/**
 * A binary min-heap of `[key, index]` pairs, ordered as Python orders the tuples (`heapq`):
 * by key, then by index.
 */

export type HeapEntry = readonly [key: number, index: number];

function less(a: HeapEntry, b: HeapEntry): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

export class PairHeap {
  private readonly items: HeapEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The smallest key held (`Infinity` when empty). */
  topKey(): number {
    const top = this.items[0];
    return top === undefined ? Infinity : top[0];
  }

  push(key: number, index: number): void {
    const a = this.items;
    const item: HeapEntry = [key, index];
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as HeapEntry;
      if (!less(item, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = item;
  }

  /** Remove and return the smallest entry (the heap must not be empty). */
  pop(): HeapEntry {
    const a = this.items;
    const top = a[0] as HeapEntry;
    const last = a.pop() as HeapEntry;
    const n = a.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && less(a[right] as HeapEntry, a[child] as HeapEntry)) child = right;
      const c = a[child] as HeapEntry;
      if (!less(c, last)) break;
      a[i] = c;
      i = child;
    }
    a[i] = last;
    return top;
  }

  /** Every index held, in no particular order. */
  indexes(): number[] {
    return this.items.map((e) => e[1]);
  }
}
