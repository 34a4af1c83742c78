/**
 * The snapshot codec: a text state as integer columns (format 2), and back, checked
 * (Python: `synckit.core._text._codec`).
 *
 * `encodeState` writes the items in document order as integer columns (layout in its
 * TSDoc), producing the same ints as Python for the same items. `decodeState` rebuilds the
 * blocks after validating everything a hostile input could break: lengths, client ranges,
 * trailing ints, overlapping ids, origins naming no character, delete runs; a problem
 * throws {@link InvalidValueError} and nothing is built.
 *
 * Deviation: ints are JS numbers; a value that is not a safe integer (|v| >= 2^53) is
 * refused ("bad value"), as are ids too big to combine as `client * shift + seq` below
 * 2^53 (Python accepts up to int64). A run-length column longer than the ints left (which
 * must hold as many values after it) is refused as truncated before it is expanded.
 *
 * @module
 */

import { InvalidValueError } from "../../errors.js";
import { Block, bisectRight, codePoints, hasSurrogates, sortedNumbers } from "./block.js";
import { DeleteLog } from "./ops.js";
import { type History, checkHistory } from "./loadChecks.js";

const FORMAT = 2; // first int of encodeState
const DECODE_ITEMS = 1024; // items per block made by decodeState

/** What {@link encodeState} returns: Python's `(ints, content, deletes)`. */
export interface EncodedState {
  /** The items as int columns (format 2). */
  ints: number[];
  /** The visible text. */
  content: string;
  /** The delete logs as int columns. */
  deletes: number[];
}

/** Pushes `src` onto `dst` (no spread: safe for long arrays). */
function pushAll(dst: number[], src: Iterable<number>): void {
  for (const v of src) dst.push(v);
}

/** `v - previous v` for each value (the first minus 0). */
function deltas(values: readonly number[]): number[] {
  const out = new Array<number>(values.length);
  let prev = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[i] = v - prev;
    prev = v;
  }
  return out;
}

/** Smallest value (Infinity for none); no spread, safe for long arrays. */
export function minOf(values: readonly number[]): number {
  let m = Infinity;
  for (const v of values) if (v < m) m = v;
  return m;
}

/** Largest value (-Infinity for none). */
export function maxOf(values: readonly number[]): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m;
}

/** Running sums of `values`. */
function accumulate(values: readonly number[]): number[] {
  const out = new Array<number>(values.length);
  let acc = 0;
  for (let i = 0; i < values.length; i++) {
    acc += values[i]!;
    out[i] = acc;
  }
  return out;
}

/** `k, (value, count) * k` for a column. */
function rle(values: readonly number[]): number[] {
  const out = [0];
  let last: number | null = null;
  for (const v of values) {
    if (v === last) out[out.length - 1]! += 1;
    else {
      out.push(v, 1);
      last = v;
    }
  }
  out[0] = (out.length - 1) >> 1;
  return out;
}

/** Throws unless `client * shift + seq` keys for `nclients` clients stay below 2^53. */
function checkKeySpace(nclients: number, shift: number): void {
  if (nclients * shift >= Number.MAX_SAFE_INTEGER) {
    throw new InvalidValueError("text state: ids too large for this client (bad value)");
  }
}

/**
 * `{ ints, content, deletes }` of the given items and delete logs (Python `encode_state`).
 *
 * `ints` holds the items in document order as columns (format 2):
 * ```
 * 2, n,
 * runs of item clients:             k, (client, count) * k
 * seq - previous item's seq:        n values
 * signed lengths (< 0 deleted):     n values
 * left origin items:                n values, j - previous j: the left origin of item i
 *                                   is the last character of item j
 * right origin items:               n values, likewise: the first character
 * items without a left origin:      k, i * k   (their j repeats the previous j)
 * items without a right origin:     k, i * k
 * left origins inside their item:   k, (i, back) * k
 * right origins inside their item:  k, (i, skip) * k
 * ```
 * `deletes` holds, per client, `client, m`, runs of `target client - client`
 * (`k, (value, count) * k`) and three columns of `m` values: `seq - previous run's seq`,
 * `target first - previous run's target first`, signed count.
 */
export function encodeState(blocks: readonly Block[], dels: ReadonlyMap<number, DeleteLog>, content: string): EncodedState {
  const clients: number[] = [];
  const seqs: number[] = [];
  const lens: number[] = [];
  const lcs: number[] = [];
  const lss: number[] = [];
  const rcs: number[] = [];
  const rss: number[] = [];
  for (const blk of blocks) {
    pushAll(clients, blk.clients);
    pushAll(seqs, blk.seqs);
    pushAll(lens, blk.lens);
    pushAll(lcs, blk.lcs);
    pushAll(lss, blk.lss);
    pushAll(rcs, blk.rcs);
    pushAll(rss, blk.rss);
  }
  const ints = [FORMAT, seqs.length];
  pushAll(ints, rle(clients));
  pushAll(ints, deltas(seqs));
  pushAll(ints, lens);
  pushAll(ints, originColumns(clients, seqs, lens, [lcs, lss, rcs, rss]));
  const deletes: number[] = [];
  for (const [c, log] of dels) {
    deletes.push(c, log.seqs.length);
    pushAll(deletes, rle(log.targets.map((t) => t - c)));
    pushAll(deletes, deltas(log.seqs));
    pushAll(deletes, deltas(log.firsts));
    pushAll(deletes, log.counts);
  }
  return { ints, content, deletes };
}

/** The origin columns of format 2 for items in document order: the steps of both sides, then their lists. */
function originColumns(
  clients: readonly number[],
  seqs: readonly number[],
  lens: readonly number[],
  origins: readonly [number[], number[], number[], number[]],
): number[] {
  const [lcs, lss, rcs, rss] = origins;
  const n = seqs.length;
  const ends = seqs.map((s, i) => s + Math.abs(lens[i]!));
  let shift = 1;
  let maxClient = 0;
  for (let i = 0; i < n; i++) {
    shift = Math.max(shift, ends[i]! + 1);
    maxClient = Math.max(maxClient, clients[i]!);
  }
  checkKeySpace(maxClient + 1, shift);
  const firsts = seqs.map((s, i) => clients[i]! * shift + s);
  const lasts = ends.map((e, i) => clients[i]! * shift + e - 1);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => firsts[a]! - firsts[b]!);
  const sortedFirsts = order.map((i) => firsts[i]!);
  const steps: number[] = [];
  const nones: number[] = [];
  const odds: number[] = [];
  const sides: [number[], number[], number[]][] = [
    [lcs, lss, lasts],
    [rcs, rss, firsts],
  ];
  for (const [cs, ss, edges] of sides) {
    const itemAt = new Map<number, number>();
    for (let i = 0; i < n; i++) itemAt.set(edges[i]!, i);
    const js = new Array<number>(n).fill(0);
    const none: number[] = [];
    const odd: number[] = [];
    let j = 0;
    for (let i = 0; i < n; i++) {
      const c = cs[i]!;
      if (c < 0) {
        none.push(i); // (j stays as it was: a step of 0)
      } else {
        const key = c * shift + ss[i]!;
        j = itemAt.get(key) ?? -1;
        if (j < 0) {
          // a character inside an item
          j = order[bisectRight(sortedFirsts, key) - 1]!;
          odd.push(i, Math.abs(key - edges[j]!));
        }
      }
      js[i] = j;
    }
    pushAll(steps, deltas(js));
    nones.push(none.length);
    pushAll(nones, none);
    odds.push(odd.length >> 1);
    pushAll(odds, odd);
  }
  return steps.concat(nones, odds);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

/** Plain safe-integer copies of `values`; InvalidValueError for anything else. */
function toInts(values: ReadonlyArray<number | bigint>): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    let x: number;
    if (typeof v === "bigint") {
      // (a range check on the bigint, then an exact conversion: no BigInt made per value)
      if (!(v <= MAX_SAFE && v >= MIN_SAFE)) throw new InvalidValueError("text state: bad value (not an integer in range)");
      x = Number(v);
    } else {
      x = v;
      if (!Number.isSafeInteger(x)) throw new InvalidValueError("text state: bad value (not an integer in range)");
    }
    out[i] = x;
  }
  return out;
}

/**
 * The blocks, delete logs and visible length of the state {@link encodeState} wrote (no
 * blocks for an empty text), after checking everything a hostile input could break;
 * throws InvalidValueError naming the problem. With `history`, also checks the state
 * against the document's version and dependencies (see `loadChecks.ts`). Python
 * `decode_state`.
 */
export function decodeState(
  clientIds: readonly string[],
  rawInts: ReadonlyArray<number | bigint>,
  content: string,
  rawDeletes: ReadonlyArray<number | bigint>,
  history: History | null = null,
): [Block[], Map<number, DeleteLog>, number] {
  const ints = toInts(rawInts);
  const deletesInts = toInts(rawDeletes);
  if (ints.length < 2 || ints[0] !== FORMAT) {
    throw new InvalidValueError(`text state: unknown format (this version reads ${FORMAT})`);
  }
  const nclients = clientIds.length;
  const n = ints[1]!;
  const r = new Reader(ints, 2);
  const [clients, cvals] = r.runs(n, 0);
  if (cvals.length && (minOf(cvals) < 0 || maxOf(cvals) >= nclients)) {
    throw new InvalidValueError("text state: item client out of range");
  }
  const seqs = accumulate(r.take(n));
  const lens = r.take(n);
  const lsteps = r.take(n);
  const rsteps = r.take(n);
  const lnone = r.take(r.take(1)[0]!);
  const rnone = r.take(r.take(1)[0]!);
  const lodd = r.take(2 * r.take(1)[0]!);
  const rodd = r.take(2 * r.take(1)[0]!);
  if (r.pos !== ints.length) throw new InvalidValueError("text state: trailing ints");
  for (const s of seqs) {
    if (!Number.isSafeInteger(s)) throw new InvalidValueError("text state: bad value (seq out of range)");
  }
  const dels = decodeDeletes(deletesInts, nclients);
  // Without surrogates a UTF-16 unit is a code point: each block's characters are cut from
  // `content` directly, with no array of all of them made first.
  const plain = !hasSurrogates(content);
  const cps = plain ? null : codePoints(content);
  const total = plain ? content.length : cps!.length;
  if (!n) {
    if (content) throw new InvalidValueError("text state: content length does not match the items");
    if (history !== null && [...dels.values()].some((log) => log.seqs.length)) {
      throw new InvalidValueError("text state: a delete targets a character that is not there");
    }
    return [[], dels, 0];
  }
  if (lens.includes(0)) throw new InvalidValueError("text state: empty item");
  const alens = lens.map(Math.abs); // item sizes
  const lasts = seqs.map((s, i) => s + alens[i]! - 1); // seq of each last char
  const single = cvals.length > 1 ? null : cvals[0]!; // the one writer of every item
  const keys = checkDisjoint(single !== null ? null : clients, seqs, lasts, nclients);
  const [lcs, lss] = origins([lsteps, lnone, lodd], 1, lasts, clients, single, alens);
  const [rcs, rss] = origins([rsteps, rnone, rodd], -1, seqs, clients, single, alens);
  if (history !== null) {
    checkHistory(history, clients, single, [seqs, lasts, lens], keys, [lcs, lss, rcs, rss], dels);
  }
  const blocks: Block[] = [];
  let voff = 0;
  for (let a = 0; a < n; a += DECODE_ITEMS) {
    const e = a + DECODE_ITEMS;
    const chunk = lens.slice(a, e);
    let size = 0;
    for (const l of chunk) if (l > 0) size += l;
    blocks.push(
      new Block(
        blocks.length,
        clients.slice(a, e),
        seqs.slice(a, e),
        chunk,
        lcs.slice(a, e),
        lss.slice(a, e),
        rcs.slice(a, e),
        rss.slice(a, e),
        cps === null ? content.slice(voff, voff + size).split("") : cps.slice(voff, voff + size),
        size,
      ),
    );
    voff += size;
  }
  if (voff !== total) throw new InvalidValueError("text state: content length does not match the items");
  return [blocks, dels, total];
}

/** Takes checked slices of a list of ints. */
class Reader {
  constructor(
    readonly ints: readonly number[],
    public pos: number,
  ) {}

  take(k: number): number[] {
    const p = this.pos;
    if (k < 0 || p + k > this.ints.length) throw new InvalidValueError("text state: truncated");
    this.pos = p + k;
    return this.ints.slice(p, p + k);
  }

  /** A run-length-encoded column of `n` values, each added to `offset`, plus the values that occur. */
  runs(n: number, offset: number): [number[], number[]] {
    const k = this.take(1)[0]!;
    const flat = this.take(2 * k);
    const values: number[] = [];
    const counts: number[] = [];
    let total = 0;
    for (let q = 0; q < k; q++) {
      values.push(flat[2 * q]! + offset);
      const c = flat[2 * q + 1]!;
      if (c < 1) throw new InvalidValueError("text state: bad run lengths");
      counts.push(c);
      total += c;
    }
    if (total !== n) throw new InvalidValueError("text state: bad run lengths");
    // (n values must follow: refuse a count the ints cannot hold before making the column)
    if (n > this.ints.length - this.pos) throw new InvalidValueError("text state: truncated");
    const out: number[] = [];
    for (let q = 0; q < k; q++) {
      const v = values[q]!;
      for (let t = counts[q]!; t > 0; t--) out.push(v);
    }
    return [out, values];
  }
}

/** Sorted first keys, sorted last keys and `shift` (0: one writer, keys are seqs). */
export type Keys = [fk: number[], lk: number[], shift: number];

/**
 * InvalidValueError unless the items' ids `seqs[i] .. lasts[i]` (of `clients[i]`; of one
 * writer when `clients` is null) are all distinct and every seq is >= 1. Returns the keys
 * (`client * shift + seq`) sorted.
 */
function checkDisjoint(clients: readonly number[] | null, seqs: readonly number[], lasts: readonly number[], nclients: number): Keys {
  let shift = 0;
  let fk: number[];
  let lk: number[];
  if (clients === null) {
    fk = sortedNumbers(seqs);
    if (fk[0]! < 1) throw new InvalidValueError("text state: an item seq below 1");
    lk = sortedNumbers(lasts);
  } else {
    if (minOf(seqs) < 1) throw new InvalidValueError("text state: an item seq below 1");
    shift = maxOf(lasts) + 1;
    checkKeySpace(nclients, shift);
    fk = sortedNumbers(seqs.map((s, i) => clients[i]! * shift + s));
    lk = sortedNumbers(lasts.map((s, i) => clients[i]! * shift + s));
  }
  for (let i = 0; i + 1 < fk.length; i++) {
    if (lk[i]! >= fk[i + 1]!) throw new InvalidValueError("text state: items overlap");
  }
  return [fk, lk, shift];
}

/**
 * The client and seq columns of one side's origins from its `(steps, items without one,
 * exceptions)`. `sign` 1 is the left side (`edges`: each item's last seq), -1 the right
 * side (`edges`: each item's first seq). An item index outside the items (negative ones
 * count from the end, as Python list indexes do) or an offset outside its item is an
 * InvalidValueError.
 */
function origins(
  lists: readonly [number[], number[], number[]],
  sign: number,
  edges: readonly number[],
  clients: readonly number[],
  single: number | null,
  sizes: readonly number[],
): [number[], number[]] {
  const [steps, none, odd] = lists;
  const n = steps.length;
  const js = accumulate(steps);
  const seqs = new Array<number>(n);
  const cs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let j = js[i]!;
    if (j < 0) j += n;
    if (!(j >= 0 && j < n)) throw new InvalidValueError("text state: an origin refers to an item that is not there");
    js[i] = j;
    seqs[i] = edges[j]!;
    cs[i] = single !== null ? single : clients[j]!;
  }
  for (const i of none) {
    if (!(i >= 0 && i < n)) throw new InvalidValueError("text state: an item without an origin is not there");
    cs[i] = -1;
    seqs[i] = 0;
  }
  for (let p = 0; p < odd.length; p += 2) {
    const i = odd[p]!;
    const off = odd[p + 1]!;
    if (!(i >= 0 && i < n) || cs[i]! < 0) throw new InvalidValueError("text state: an origin offset names no origin");
    const j = js[i]!;
    if (!(off > 0 && off < sizes[j]!)) {
      throw new InvalidValueError("text state: an origin refers to a character that is not there");
    }
    seqs[i] = edges[j]! - sign * off;
  }
  return [cs, seqs];
}

/** The delete logs {@link encodeState} wrote, checked: known clients, non-empty runs that do not overlap, targets with seqs >= 0. */
function decodeDeletes(deletes: readonly number[], nclients: number): Map<number, DeleteLog> {
  const logs = new Map<number, DeleteLog>();
  const r = new Reader(deletes, 0);
  while (r.pos < deletes.length) {
    const [c, m] = r.take(2) as [number, number];
    if (!(c >= 0 && c < nclients) || logs.has(c)) throw new InvalidValueError("text state: bad delete log client");
    const [targets, tvals] = r.runs(m, c);
    const steps = r.take(m);
    const moves = r.take(m);
    const counts = r.take(m);
    const log = new DeleteLog();
    if (m) {
      if (minOf(tvals) < 0 || maxOf(tvals) >= nclients) {
        throw new InvalidValueError("text state: delete target client out of range");
      }
      if (counts.includes(0)) throw new InvalidValueError("text state: empty delete run");
      // Each run starts at or after the previous run's end (the first at seq >= 0).
      if (steps[0]! < 0) throw new InvalidValueError("text state: delete runs overlap");
      for (let q = 1; q < m; q++) {
        if (Math.abs(counts[q - 1]!) > steps[q]!) throw new InvalidValueError("text state: delete runs overlap");
      }
      const firsts = accumulate(moves);
      // The lowest target of a run is its first, or first + count + 1 for a backspace run.
      for (let q = 0; q < m; q++) {
        if (firsts[q]! < 0 || firsts[q]! < -counts[q]! - 1) {
          throw new InvalidValueError("text state: delete target seq out of range");
        }
      }
      const seqs = accumulate(steps);
      for (const v of [...seqs, ...firsts]) {
        if (!Number.isSafeInteger(v)) throw new InvalidValueError("text state: bad value (seq out of range)");
      }
      log.seqs = seqs;
      log.targets = targets;
      log.firsts = firsts;
      log.counts = counts;
    }
    logs.set(c, log);
  }
  return logs;
}
