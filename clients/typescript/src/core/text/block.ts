/**
 * Blocks: chunks of consecutive items as parallel columns, with their visible text
 * (Python: the `_Block` class of `synckit.core._text._blocks`).
 *
 * An item is a run of characters of one client with consecutive seqs (see the README of
 * this package); a block holds up to {@link MAX_ITEMS} items and the visible characters of
 * its items, one code point per array element, so that every position and length is in
 * code points as in Python.
 *
 * @module
 */

/** Items per block before it is split in two (Python `_MAX_ITEMS`). */
export const MAX_ITEMS = 64;
/** Visible characters per block before it is split, if it has 2+ items (`_MAX_TEXT`). */
export const MAX_TEXT = 4096;

/** The code points of `s`, one string each (astral characters are one element). */
export function codePoints(s: string): string[] {
  // One unit is one code point; without surrogates every unit is one, and split("") is
  // much faster than Array.from.
  if (s.length < 2) return s.length ? [s] : [];
  return SURROGATE.test(s) ? Array.from(s) : s.split("");
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Whether `s` holds a UTF-16 surrogate (so some code point takes two units). */
export function hasSurrogates(s: string): boolean {
  return SURROGATE.test(s);
}

/**
 * `values` sorted ascending as a new array, without comparator calls: a two-pass radix sort
 * when every value is an integer in [0, 2^32) (seqs and item keys usually are; three
 * passes of 11 bits), else a
 * typed-array sort; both much faster than `[...values].sort((a, b) => a - b)`.
 */
export function sortedNumbers(values: readonly number[]): number[] {
  const n = values.length;
  let k = 1;
  while (k < n && values[k - 1]! <= values[k]!) k++;
  if (k >= n) return values.slice(); // already sorted
  let small = true;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v <= 0xffffffff && v === Math.floor(v))) {
      small = false;
      break;
    }
  }
  const out = new Array<number>(n);
  if (small) {
    const a = new Uint32Array(n);
    const b = new Uint32Array(n);
    for (let i = 0; i < n; i++) a[i] = values[i]!;
    const counts = new Uint32Array(2049);
    radixPass(a, b, 0, counts);
    radixPass(b, a, 11, counts);
    radixPass(a, b, 22, counts);
    for (let i = 0; i < n; i++) out[i] = b[i]!;
    return out;
  }
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) t[i] = values[i]!;
  t.sort();
  for (let i = 0; i < n; i++) out[i] = t[i]!;
  return out;
}

/** One stable counting-sort pass of `from` into `to` on the 11 bits at `shift`. */
function radixPass(from: Uint32Array, to: Uint32Array, shift: number, counts: Uint32Array): void {
  counts.fill(0);
  const n = from.length;
  for (let i = 0; i < n; i++) {
    const d = ((from[i]! >>> shift) & 0x7ff) + 1;
    counts[d] = counts[d]! + 1;
  }
  for (let d = 1; d < 2049; d++) counts[d] = counts[d]! + counts[d - 1]!;
  for (let i = 0; i < n; i++) {
    const v = from[i]!;
    const d = (v >>> shift) & 0x7ff;
    const at = counts[d]!;
    counts[d] = at + 1;
    to[at] = v;
  }
}

/** The numbers of all `lists` sorted ascending: merged when each list is sorted (as is usual), else sorted. */
export function sortedUnion(lists: readonly (readonly number[])[]): number[] {
  let out: number[] = [];
  for (const list of lists) {
    for (let k = 1; k < list.length; k++) {
      if (list[k - 1]! > list[k]!) return sortedNumbers(lists.flat());
    }
    out = mergeTwo(out, list);
  }
  return out;
}

function mergeTwo(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) out[o++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[o++] = a[i++]!;
  while (j < b.length) out[o++] = b[j++]!;
  return out;
}

/**
 * `arr` with `items` inserted at `at`: in place (and returned) unless `items` is long, then
 * a new array (no spread of a long array: it could overflow the stack).
 */
export function spliceIn<T>(arr: T[], at: number, items: readonly T[]): T[] {
  const k = items.length;
  if (at === arr.length) {
    for (let i = 0; i < k; i++) arr.push(items[i]!);
    return arr;
  }
  if (k === 1) {
    arr.splice(at, 0, items[0]!);
    return arr;
  }
  if (k <= 1024) {
    arr.splice(at, 0, ...items);
    return arr;
  }
  return arr.slice(0, at).concat(items as T[], arr.slice(at));
}

/** A chunk of consecutive items (parallel columns) with its visible text. */
export class Block {
  /**
   * @param idx - position in the state's block list.
   * @param clients - client index of each item.
   * @param seqs - seq of each item's first character.
   * @param lens - signed item lengths: > 0 a visible run, < 0 a deleted run.
   * @param lcs - left origin client (-1: none).
   * @param lss - left origin seq.
   * @param rcs - right origin client (-1: none).
   * @param rss - right origin seq.
   * @param text - visible characters of the block in order, one code point each.
   * @param size - `text.length`.
   */
  constructor(
    public idx: number,
    public clients: number[],
    public seqs: number[],
    public lens: number[],
    public lcs: number[],
    public lss: number[],
    public rcs: number[],
    public rss: number[],
    public text: string[],
    public size: number,
  ) {}

  /** An empty block at index `idx`. */
  static empty(idx: number): Block {
    return new Block(idx, [], [], [], [], [], [], [], [], 0);
  }

  /** Visible characters in items `0..i-1`. */
  visibleOffset(i: number): number {
    const lens = this.lens;
    let s = 0;
    for (let k = 0; k < i; k++) {
      const l = lens[k]!;
      if (l > 0) s += l;
    }
    return s;
  }

  /** Index of the item of `client` starting at seq `start` (must exist; Python `find`). */
  find(client: number, start: number): number {
    const seqs = this.seqs;
    const clients = this.clients;
    for (let i = 0; i < seqs.length; i++) {
      if (seqs[i] === start && clients[i] === client) return i;
    }
    throw new Error("id index out of sync");
  }

  /** Inserts an item at index `j`. */
  insertItem(j: number, client: number, seq: number, length: number, lc: number, ls: number, rc: number, rs: number): void {
    this.clients.splice(j, 0, client);
    this.seqs.splice(j, 0, seq);
    this.lens.splice(j, 0, length);
    this.lcs.splice(j, 0, lc);
    this.lss.splice(j, 0, ls);
    this.rcs.splice(j, 0, rc);
    this.rss.splice(j, 0, rs);
  }

  /** Removes item `j`. */
  removeItem(j: number): void {
    this.clients.splice(j, 1);
    this.seqs.splice(j, 1);
    this.lens.splice(j, 1);
    this.lcs.splice(j, 1);
    this.lss.splice(j, 1);
    this.rcs.splice(j, 1);
    this.rss.splice(j, 1);
  }
}

/** Do items `i` and `j` of `blk` have the same right origin? */
export function sameRight(blk: Block, i: number, j: number): boolean {
  const rc = blk.rcs[i]!;
  return rc === blk.rcs[j]! && (rc < 0 || blk.rss[i]! === blk.rss[j]!);
}

/** Compares two strings by code points, as Python compares `str` (JS `<` compares UTF-16 units). */
export function lessByCodePoints(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? false : true; // a surrogate (astral) sorts after any BMP unit
      return x < y;
    }
  }
  return a.length < b.length;
}

/** Largest index `q` with `sorted[q] <= key`, plus one (Python `bisect_right`). */
export function bisectRight(sorted: readonly number[], key: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Smallest index `q` with `sorted[q] >= key` (Python `bisect_left`). */
export function bisectLeft(sorted: readonly number[], key: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
