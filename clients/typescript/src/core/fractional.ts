/**
 * Fractional position keys for ordered lists (Python: `_fractional.py`; the same keys for
 * the same operations, byte for byte).
 *
 * A key is a string of base-62 digits read as a fraction in (0, 1), never ending in the zero
 * digit. Every generated key is a short prefix chosen strictly between its neighbours,
 * followed by a suffix unique to the operation that made it (a hash of the client id and the
 * seq). An insert right after the item the same replica inserted just before it (a run)
 * extends the run's first key instead (see {@link keyAfter}).
 */
import { InvalidValueError } from "../errors.js";
import { blake2b } from "./blake2b.js";

/** The base-62 digits, in order. */
export const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE = 62;
const BBASE = 62n;
const VALUE = new Map<string, number>([...DIGITS].map((c, i) => [c, i]));

function val(c: string | undefined): number {
  return VALUE.get(c as string) as number;
}

function scaled(key: string, length: number): number {
  let n = 0;
  for (let i = 0; i < length; i++) n = n * BASE + (i < key.length ? val(key[i]) : 0);
  return n;
}

function digits(n: bigint, length: number): string {
  const out: string[] = [];
  for (let i = 0; i < length; i++) {
    out.push(DIGITS[Number(n % BBASE)] as string);
    n /= BBASE;
  }
  return out.reverse().join("");
}

const PROBE = 8;

function bitLength(n: number): number {
  return n <= 0 ? 0 : n.toString(2).length;
}

function endLength(lo: string | null, hi: string | null): number {
  if ((lo === null) === (hi === null)) return 1;
  const full = BASE ** PROBE; // 62^8 < 2^53: exact
  const room = lo !== null ? full - scaled(lo, PROBE) : scaled(hi ?? "", PROBE);
  const halvings = bitLength(Math.floor(full / Math.max(room, 1))) - 1;
  return 1 + Math.floor(halvings / 3);
}

/**
 * A key strictly between `lo` and `hi` (null: start or end), ending in `suffix`.
 * `lo` must be less than `hi`; `suffix` non-empty digits not ending in "0".
 */
export function keyBetween(lo: string | null, hi: string | null, suffix: string): string {
  const shortest = endLength(lo, hi);
  const los = lo ?? "";
  const his = hi ?? "";
  const nlo = los.length;
  const nhi = his.length;
  let a = 0n;
  let b = hi === null ? 1n : 0n;
  const limit = Math.max(nlo, nhi) + 3 + shortest;
  for (let length = 1; length < limit; length++) {
    const i = length - 1;
    a = a * BBASE + BigInt(i < nlo ? val(los[i]) : 0);
    b = b * BBASE + BigInt(i < nhi ? val(his[i]) : 0);
    if (length >= shortest && b - a >= 2n) {
      let m: bigint;
      if (hi === null) m = a + 1n;
      else if (lo === null) m = b - 1n;
      else m = (a + b) / 2n;
      const high = m / BBASE;
      const last = DIGITS[Number(m % BBASE)] as string;
      if (high === a / BBASE && i <= nlo) return los.slice(0, i) + last + suffix;
      if (high === b / BBASE && i <= nhi) return his.slice(0, i) + last + suffix;
      return digits(m, length) + suffix;
    }
  }
  throw new InvalidValueError(`no key between ${String(lo)} and ${String(hi)}`);
}

/**
 * A key strictly between `lo` and `hi` that starts with `lo.slice(0, anchor)` (with anchor
 * 0: {@link keyBetween}). `hi` not above `lo` does not fail: the key goes just above `lo`.
 * Keys are ASCII, so JavaScript's string order is Python's here.
 */
export function keyAfter(lo: string | null, hi: string | null, anchor: number, suffix: string): string {
  if (lo === null || anchor <= 0) {
    if (lo !== null && hi !== null && hi <= lo) return lo + keyBetween(null, null, suffix);
    return keyBetween(lo, hi, suffix);
  }
  anchor = Math.min(anchor, lo.length);
  const head = lo.slice(0, anchor);
  const restLo = lo.slice(anchor) || null;
  const restHi = hi !== null && hi > lo && hi.startsWith(head) ? hi.slice(anchor) : null;
  if (hi !== null && hi <= lo) return lo + keyBetween(null, null, suffix);
  return head + keyBetween(restLo, restHi, suffix);
}

/** The six digits every key made by `clientId` carries (a hash of the id). */
export function clientTag(clientId: string): string {
  const d = blake2b(new TextEncoder().encode(clientId), 4);
  const h = (((d[0] as number) << 24) >>> 0) + ((d[1] as number) << 16) + ((d[2] as number) << 8) + (d[3] as number);
  return digits(BigInt(h), 6);
}

/** The unique tail of the key made by operation `(clientId, seq)`. */
export function operationSuffix(clientId: string, seq: number, tag?: string): string {
  tag ??= clientTag(clientId);
  const s: string[] = [];
  while (seq) {
    s.push(DIGITS[seq % BASE] as string);
    seq = Math.floor(seq / BASE);
  }
  return tag + s.reverse().join("") + "1";
}
