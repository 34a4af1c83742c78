/**
 * The protobuf wire format, by hand: what the generated codecs in `src/gen/` (written by
 * `scripts/protogen.ts` from `../../proto`) read and write with.
 *
 * Reading follows the rules of the Python runtime (upb), so both sides accept and refuse the
 * same bytes: field number 0, wire types 6 and 7, a stray end-group, varints over 10 bytes,
 * tags past 32 bits, tags and lengths over 5 bytes, unmatched groups, groups and messages
 * nested over 100 deep together, malformed packed runs and truncation throw
 * {@link WireError} (inside a group being skipped, field number 0 is read past, as upb
 * does); a known field sent with another wire type is skipped as an unknown field (as are
 * unknown fields); repeated numbers are read packed or not; the last value of a singular
 * field wins (a message field merges). Invalid UTF-8 in a string field throws a `WireError` too (as upb
 * refuses it in proto3).
 *
 * Writing gives the bytes protobuf-es and upb give: fields in number order, zero values of
 * implicit-presence fields left out, repeated numbers packed.
 *
 * Everything is a plain function over a small state object, so that a bundle keeps only
 * what its messages use.
 *
 * @module
 */

import { DecodeError } from "../errors.js";

/**
 * Bytes upb would refuse as corrupt: a {@link DecodeError} whose message names what was wrong
 * (callers that read a message of their own wrap it in theirs).
 */
export class WireError extends DecodeError {}

const LEN = 2;

/** A read position in `b`: `e` is the end of the message being read, `d` its depth. */
export interface Reader {
  readonly b: Uint8Array;
  p: number;
  e: number;
  d: number;
}

/** A reader of the whole of `b`. */
export function reader(b: Uint8Array): Reader {
  return { b, p: 0, e: b.length, d: 0 };
}

function byte(r: Reader): number {
  if (r.p >= r.e) throw new WireError("truncated varint");
  return r.b[r.p++] as number;
}

/** Past the rest of a varint of which `i` bytes are read; throws past 10 bytes. */
function rest(r: Reader, i: number): void {
  for (; i < 10; i++) if (byte(r) < 0x80) return;
  throw new WireError("varint over 10 bytes");
}

/**
 * A tag or a length: upb reads them as varints of at most 5 bytes and refuses longer ones
 * (`what` names which it was). The value may reach 2^35 - 1: callers check its range.
 */
function v32(r: Reader, what: string): number {
  let n = 0;
  let shift = 1;
  for (let i = 0; i < 5; i++) {
    const b = byte(r);
    n += (b & 0x7f) * shift;
    if (b < 0x80) return n;
    shift *= 128;
  }
  throw new WireError(what);
}

/** The next tag (field number * 8 + wire type), or 0 at the end of the message. */
export function tag(r: Reader): number {
  if (r.p >= r.e) return 0;
  const b = r.b[r.p] as number;
  let n = b;
  if (b < 0x80) r.p++;
  else n = v32(r, "bad tag");
  const w = n % 8;
  if (n < 8 || w > 5 || w === 4 || n > 0xffffffff) throw new WireError("bad tag");
  return n;
}

/** A `uint32` (the low 32 bits of the varint). */
export function u32(r: Reader): number {
  let b = byte(r);
  if (b < 0x80) return b;
  let n = b & 0x7f;
  b = byte(r);
  n |= (b & 0x7f) << 7;
  if (b < 0x80) return n;
  b = byte(r);
  n |= (b & 0x7f) << 14;
  if (b < 0x80) return n;
  b = byte(r);
  n |= (b & 0x7f) << 21;
  if (b < 0x80) return n;
  b = byte(r);
  n = (n | ((b & 0x0f) << 28)) >>> 0;
  if (b >= 0x80) rest(r, 5);
  return n;
}

/** An enum (`int32`: the low 32 bits, signed). */
export function i32(r: Reader): number {
  return u32(r) | 0;
}

/** The low and high 32 bits of a varint, unsigned, as one bigint. */
function long(r: Reader, n: number): bigint {
  // n: the first 7 bytes' value (49 bits) is known not to be all of it; read on.
  const lo = n % 2 ** 32;
  let hi = Math.floor(n / 2 ** 32);
  let shift = 17;
  for (let i = 7; i < 10; i++) {
    const b = byte(r);
    if (shift < 32) hi |= (b & 0x7f) << shift;
    shift += 7;
    if (b < 0x80) return (BigInt(hi >>> 0) << 32n) | BigInt(lo);
  }
  throw new WireError("varint over 10 bytes");
}

/** A `uint64`, exact (the varint's low 64 bits). */
export function u64(r: Reader): bigint {
  let b = byte(r);
  if (b < 0x80) return BigInt(b);
  let n = b & 0x7f;
  let shift = 128;
  for (let i = 1; i < 7; i++) {
    b = byte(r);
    n += (b & 0x7f) * shift;
    if (b < 0x80) return BigInt(n);
    shift *= 128;
  }
  return long(r, n);
}

/** A `uint64` read as a number when below 2^49, else as a bigint (zigzag decoding's input). */
function raw64(r: Reader): number | bigint {
  let b = byte(r);
  if (b < 0x80) return b;
  let n = b & 0x7f;
  let shift = 128;
  for (let i = 1; i < 7; i++) {
    b = byte(r);
    n += (b & 0x7f) * shift;
    if (b < 0x80) return n;
    shift *= 128;
  }
  return long(r, n);
}

/** A `sint64` (zigzag), exact. */
export function s64(r: Reader): bigint {
  const z = raw64(r);
  if (typeof z === "number") return BigInt(z % 2 ? -(z + 1) / 2 : z / 2);
  return BigInt.asIntN(64, (z >> 1n) ^ -(z & 1n));
}

/**
 * A `sint64` as a number when it is a safe integer (no bigint made), else as an exact bigint:
 * for the long integer columns, which hold small numbers.
 */
export function s64n(r: Reader): number | bigint {
  const z = raw64(r);
  if (typeof z === "number") return z % 2 ? -(z + 1) / 2 : z / 2;
  const x = BigInt.asIntN(64, (z >> 1n) ^ -(z & 1n));
  return x <= 0x1fffffffffffffn && x >= -0x1fffffffffffffn ? Number(x) : x;
}

/** An `int64`, exact. */
export function i64(r: Reader): bigint {
  return BigInt.asIntN(64, u64(r));
}

/** A `bool`: any bit of the varint's low 64 set. */
export function bool(r: Reader): boolean {
  const b = r.p < r.e ? (r.b[r.p] as number) : 0x80;
  if (b < 0x80) {
    r.p++;
    return b !== 0;
  }
  return u64(r) !== 0n;
}

/** A `fixed32`. */
export function f32(r: Reader): number {
  const p = r.p;
  if (r.e - p < 4) throw new WireError("truncated field");
  r.p = p + 4;
  const b = r.b;
  return ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
}

/** The extent of a length-delimited field: its start, and sets `r.p` past its end. */
function span(r: Reader): number {
  const n = v32(r, "bad length");
  const s = r.p;
  if (n > r.e - s) throw new WireError("truncated field");
  r.p = s + n;
  return s;
}

/** A `bytes` field (a view of the input, not a copy). */
export function bytes(r: Reader): Uint8Array {
  const s = span(r);
  return r.b.subarray(s, r.p);
}

const utf8 = /* @__PURE__ */ new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** `b[s, e)` as UTF-8; a `WireError` when it is not. */
function utf8At(b: Uint8Array, s: number, e: number): string {
  try {
    return utf8.decode(b.subarray(s, e));
  } catch {
    throw new WireError("invalid UTF-8 in a string field");
  }
}

/** A `string` field; throws on invalid UTF-8. */
export function str(r: Reader): string {
  const s = span(r);
  const e = r.p;
  const b = r.b;
  if (e - s <= 32) {
    let out = "";
    for (let i = s; i < e; i++) {
      const c = b[i] as number;
      if (c >= 0x80) return utf8At(b, s, e);
      out += String.fromCharCode(c);
    }
    return out;
  }
  return utf8At(b, s, e);
}

/**
 * A packed run of varints into `out`, each read by `read` (which must stay within it). A
 * varint crossing the run's end throws.
 */
export function packed<T>(r: Reader, out: T[], read: (r: Reader) => T): void {
  const s = span(r);
  const end = r.e;
  r.e = r.p;
  r.p = s;
  while (r.p < r.e) out.push(read(r));
  r.e = end;
}

/** A packed run of `fixed32`s into `out`. */
export function packed32(r: Reader, out: number[]): void {
  const s = span(r);
  if ((r.p - s) % 4) throw new WireError("malformed packed field");
  const end = r.e;
  r.e = r.p;
  r.p = s;
  while (r.p < r.e) out.push(f32(r));
  r.e = end;
}

/** A length-delimited message, read by `read` into `into` (a fresh one when undefined). */
export function sub<T>(r: Reader, read: (r: Reader, into?: T) => T, into?: T): T {
  const s = span(r);
  const end = r.e;
  const p = r.p;
  if (++r.d > 100) throw new WireError("messages nest too deep");
  r.e = p;
  r.p = s;
  const m = read(r, into);
  r.e = end;
  r.d--;
  return m;
}

/** A oneof member `c` read by `read`: merged into `o`'s value when `o` is that member already. */
export function one<C extends string, T>(r: Reader, o: { readonly case?: string | undefined; readonly value?: unknown }, c: C, read: (r: Reader, into?: T) => T): { case: C; value: T } {
  return { case: c, value: sub(r, read, o.case === c ? (o.value as T) : undefined) };
}

/** Past the value of a field upb does not know under this tag (unknown, or another wire type). */
export function skip(r: Reader, t: number): void {
  skipValue(r, t % 8, Math.floor(t / 8), r.d);
}

function skipValue(r: Reader, wire: number, field: number, depth: number): void {
  switch (wire) {
    case 0: u32(r); return;
    case 1: case 5: {
      const n = wire === 1 ? 8 : 4;
      if (n > r.e - r.p) throw new WireError("truncated field");
      r.p += n;
      return;
    }
    case LEN: span(r); return;
    case 3: {
      if (depth >= 100) throw new WireError("groups nest too deep");
      for (;;) {
        const t = v32(r, "bad tag");
        const w = t % 8;
        // Field number 0 is not checked in here: upb does not (the spec forbids it, but
        // refusing what the Python server accepts and relays would cut this client off).
        if (w > 5 || t > 0xffffffff) throw new WireError("bad tag");
        if (w === 4) {
          if (Math.floor(t / 8) !== field) throw new WireError("unmatched end group");
          return;
        }
        skipValue(r, w, Math.floor(t / 8), depth + 1);
      }
    }
    default: throw new WireError("bad wire type");
  }
}

/** A growing output buffer. */
export interface Writer {
  b: Uint8Array;
  p: number;
}

/** An empty writer. */
export function writer(): Writer {
  return { b: new Uint8Array(256), p: 0 };
}

/** `m` as bytes, written by `write`. */
export function encode<T>(m: T, write: (w: Writer, m: T) => void): Uint8Array {
  const w = writer();
  write(w, m);
  return finish(w);
}

/** The bytes written. */
export function finish(w: Writer): Uint8Array {
  return w.b.slice(0, w.p);
}

function room(w: Writer, n: number): void {
  if (w.p + n <= w.b.length) return;
  const b = new Uint8Array(Math.max(w.b.length * 2, w.p + n));
  b.set(w.b.subarray(0, w.p));
  w.b = b;
}

/** A varint of a non-negative number below 2^53. */
function varint(w: Writer, n: number): void {
  room(w, 10);
  const b = w.b;
  let p = w.p;
  while (n > 0x7f) {
    b[p++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  b[p++] = n;
  w.p = p;
}

/** A varint of the low 64 bits of `v`. */
function varintBig(w: Writer, v: bigint): void {
  v = BigInt.asUintN(64, v);
  if (v <= 0x1fffffffffffffn) {
    varint(w, Number(v));
    return;
  }
  room(w, 10);
  while (v > 0x7fn) {
    w.b[w.p++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  w.b[w.p++] = Number(v);
}

function u64v(w: Writer, v: bigint | number): void {
  if (typeof v === "number" && v >= 0 && v <= Number.MAX_SAFE_INTEGER) varint(w, v);
  else varintBig(w, BigInt(v));
}

function s64v(w: Writer, v: bigint | number): void {
  if (typeof v === "number" && v >= -(2 ** 52) && v < 2 ** 52) varint(w, v < 0 ? -2 * v - 1 : 2 * v);
  else {
    const x = BigInt.asIntN(64, BigInt(v));
    varintBig(w, (x << 1n) ^ (x >> 63n));
  }
}

/** Write the tag of field `no` with wire type `wire`. */
function key(w: Writer, no: number, wire: number): void {
  varint(w, no * 8 + wire);
}

/** Field `no`, a `uint32` (left out when 0). */
export function wU32(w: Writer, no: number, v: number | undefined): void {
  if (v) {
    key(w, no, 0);
    varint(w, v >>> 0);
  }
}

/** Field `no`, an enum (`int32`; left out when 0). */
export function wI32(w: Writer, no: number, v: number | undefined): void {
  if (v) {
    key(w, no, 0);
    if (v < 0) varintBig(w, BigInt(v | 0));
    else varint(w, v | 0);
  }
}

/** Field `no`, a `uint64` or `int64` (left out when 0). */
export function wU64(w: Writer, no: number, v: bigint | number | undefined): void {
  if (v) {
    key(w, no, 0);
    u64v(w, v);
  }
}

/** Field `no`, a `sint64` (left out when 0). */
export function wS64(w: Writer, no: number, v: bigint | number | undefined): void {
  if (v) {
    key(w, no, 0);
    s64v(w, v);
  }
}

/** Field `no`, a `bool` (left out when false). */
export function wBool(w: Writer, no: number, v: boolean | undefined): void {
  if (v) {
    key(w, no, 0);
    varint(w, 1);
  }
}

/** Field `no`, a `fixed32` (left out when 0). */
export function wF32(w: Writer, no: number, v: number | undefined): void {
  if (v) {
    key(w, no, 5);
    room(w, 4);
    v >>>= 0;
    w.b[w.p++] = v & 0xff;
    w.b[w.p++] = (v >>> 8) & 0xff;
    w.b[w.p++] = (v >>> 16) & 0xff;
    w.b[w.p++] = v >>> 24;
  }
}

const encoder = /* @__PURE__ */ new TextEncoder();

function strv(w: Writer, s: string): void {
  const n = s.length;
  if (n < 128) {
    room(w, n + 1);
    const b = w.b;
    const p = w.p;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p + 1 + i] = c;
    }
    if (i === n) {
      b[p] = n;
      w.p = p + 1 + n;
      return;
    }
  }
  // At most 3 bytes per UTF-16 unit; the length is moved down if it takes fewer bytes.
  const most = 3 * n;
  const head = size(most);
  room(w, head + most + 10);
  const { written } = encoder.encodeInto(s, w.b.subarray(w.p + head));
  const real = size(written);
  if (real !== head) w.b.copyWithin(w.p + real, w.p + head, w.p + head + written);
  varint(w, written);
  w.p += written;
}

function size(n: number): number {
  let k = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    k++;
  }
  return k;
}

/** Field `no`, a `string` (left out when empty). */
export function wStr(w: Writer, no: number, v: string | undefined): void {
  if (v) {
    key(w, no, LEN);
    strv(w, v);
  }
}

/** Field `no`, `bytes` (left out when empty). */
export function wBytes(w: Writer, no: number, v: Uint8Array | undefined): void {
  if (v !== undefined && v.length) {
    key(w, no, LEN);
    varint(w, v.length);
    room(w, v.length);
    w.b.set(v, w.p);
    w.p += v.length;
  }
}

/** Field `no`, repeated `string` (each its own field). */
export function wStrs(w: Writer, no: number, v: readonly string[] | undefined): void {
  if (v) for (const s of v) {
    key(w, no, LEN);
    strv(w, s);
  }
}

/** Field `no`, repeated `bytes` (each its own field). */
export function wBytesList(w: Writer, no: number, v: readonly Uint8Array[] | undefined): void {
  if (v) for (const b of v) {
    key(w, no, LEN);
    varint(w, b.length);
    room(w, b.length);
    w.b.set(b, w.p);
    w.p += b.length;
  }
}

/** Length-delimited field `no` written by `body`: its length goes in front once known. */
function delimited(w: Writer, no: number, body: () => void): void {
  key(w, no, LEN);
  room(w, 1);
  const at = ++w.p;
  body();
  const n = w.p - at;
  if (n < 0x80) {
    w.b[at - 1] = n;
    return;
  }
  const head = size(n);
  room(w, head - 1);
  w.b.copyWithin(at + head - 1, at, w.p);
  w.p = at - 1;
  varint(w, n);
  w.p += n;
}

/** Field `no`, packed repeated `uint32` (left out when empty). */
export function wU32s(w: Writer, no: number, v: readonly number[] | undefined): void {
  if (v?.length) delimited(w, no, () => { for (const x of v) varint(w, x >>> 0); });
}

/** Field `no`, packed repeated enum (left out when empty). */
export function wI32s(w: Writer, no: number, v: readonly number[] | undefined): void {
  if (v?.length) delimited(w, no, () => { for (const x of v) u64v(w, x | 0); });
}

/** Field `no`, packed repeated `uint64` / `int64` (left out when empty). */
export function wU64s(w: Writer, no: number, v: readonly (bigint | number)[] | undefined): void {
  if (v?.length) delimited(w, no, () => { for (const x of v) u64v(w, x); });
}

/** Field `no`, packed repeated `sint64` (left out when empty). */
export function wS64s(w: Writer, no: number, v: readonly (bigint | number)[] | undefined): void {
  if (v?.length) delimited(w, no, () => { for (const x of v) s64v(w, x); });
}

/** Field `no`, packed repeated `bool` (left out when empty). */
export function wBools(w: Writer, no: number, v: readonly boolean[] | undefined): void {
  if (v?.length) delimited(w, no, () => { for (const x of v) varint(w, x ? 1 : 0); });
}

/** Field `no`, a message written by `write` (written even when empty; left out when undefined). */
export function wMsg<T>(w: Writer, no: number, v: T | undefined, write: (w: Writer, m: T) => void): void {
  if (v !== undefined) delimited(w, no, () => write(w, v));
}

/** Field `no`, oneof member `c` (written, even when empty, when `o` is that member). */
export function wOne<T>(w: Writer, no: number, o: { readonly case?: string | undefined; readonly value?: unknown } | undefined, c: string, write: (w: Writer, m: T) => void): void {
  if (o?.case === c) delimited(w, no, () => write(w, o.value as T));
}

/** Field `no`, repeated messages. */
export function wMsgs<T>(w: Writer, no: number, v: readonly T[] | undefined, write: (w: Writer, m: T) => void): void {
  if (v) for (const m of v) delimited(w, no, () => write(w, m));
}
