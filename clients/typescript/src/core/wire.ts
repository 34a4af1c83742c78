/**
 * Reading protobuf bytes the way the Python runtime (upb) reads them.
 *
 * protobuf-es reads a known field whatever its wire type says, and accepts field number 0;
 * upb refuses field number 0, wire types 6 and 7, varints over 10 bytes, unmatched groups
 * and malformed packed runs, and treats a known field sent with another wire type as an
 * unknown field. {@link wireChecked} applies those rules before protobuf-es parses, so both
 * sides accept and refuse the same bytes: it throws on what upb finds corrupt and returns
 * the bytes without the fields upb would keep as unknown (the same bytes when there are
 * none).
 */
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";

/** Bytes upb would refuse as corrupt. */
export class WireError extends Error {}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;

function scalarWire(t: ScalarType): number {
  switch (t) {
    case ScalarType.DOUBLE: case ScalarType.FIXED64: case ScalarType.SFIXED64: return I64;
    case ScalarType.FLOAT: case ScalarType.FIXED32: case ScalarType.SFIXED32: return I32;
    case ScalarType.STRING: case ScalarType.BYTES: return LEN;
    default: return VARINT;
  }
}

/** The wire types upb reads field `f` from (a repeated number also comes packed). */
function accepted(f: DescField): [number, number | null] {
  switch (f.fieldKind) {
    case "scalar": return [scalarWire(f.scalar), null];
    case "enum": return [VARINT, null];
    case "message": case "map": return [LEN, null];
    case "list":
      if (f.listKind === "message") return [LEN, null];
      if (f.listKind === "enum") return [VARINT, LEN];
      return f.scalar === ScalarType.STRING || f.scalar === ScalarType.BYTES ? [LEN, null] : [scalarWire(f.scalar), LEN];
  }
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly end: number) {}

  varint(): number {
    let n = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError("truncated varint");
      const b = this.buf[this.pos++] as number;
      if (i < 7) n += (b & 0x7f) * shift;
      shift *= 128;
      if (b < 0x80) return n;
    }
    throw new WireError("varint over 10 bytes");
  }

  skip(n: number): void {
    if (n > this.end - this.pos) throw new WireError("truncated field");
    this.pos += n;
  }
}

function skipValue(r: Reader, wire: number, field: number, depth: number): void {
  switch (wire) {
    case VARINT: r.varint(); return;
    case I64: r.skip(8); return;
    case I32: r.skip(4); return;
    case LEN: r.skip(r.varint()); return;
    case SGROUP: {
      if (depth > 100) throw new WireError("groups nest too deep");
      for (;;) {
        const tag = r.varint();
        const f = Math.floor(tag / 8);
        const w = tag % 8;
        if (f === 0 || w > 5) throw new WireError("bad tag");
        if (w === EGROUP) {
          if (f !== field) throw new WireError("unmatched end group");
          return;
        }
        skipValue(r, w, f, depth + 1);
      }
    }
    default: throw new WireError("bad wire type");
  }
}

function checkPacked(buf: Uint8Array, start: number, end: number, wire: number): void {
  if (wire === I32 || wire === I64) {
    if ((end - start) % (wire === I32 ? 4 : 8)) throw new WireError("malformed packed field");
    return;
  }
  const r = new Reader(buf, end);
  r.pos = start;
  while (r.pos < end) r.varint();
}

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function join(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Check `buf[start, end)` as message `desc`: the bytes upb keeps of it (as chunks), and
 * whether that is all of them.
 */
function walk(desc: DescMessage, buf: Uint8Array, start: number, end: number, depth: number): [Uint8Array[], boolean] {
  if (depth > 100) throw new WireError("messages nest too deep");
  const r = new Reader(buf, end);
  r.pos = start;
  const chunks: Uint8Array[] = [];
  let clean = true;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint();
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (number === 0 || wire > 5 || wire === EGROUP) throw new WireError("bad tag");
    const field = desc.fields.find((f) => f.number === number);
    const [main, alt] = field === undefined ? [-1, null] : accepted(field);
    if (field === undefined || (wire !== main && wire !== alt)) {
      skipValue(r, wire, number, depth);
      clean = false; // an unknown field to upb: left out
      continue;
    }
    if (wire !== LEN) {
      skipValue(r, wire, number, depth);
      chunks.push(buf.subarray(at, r.pos));
      continue;
    }
    const tagEnd = r.pos;
    const n = r.varint();
    const s = r.pos;
    r.skip(n);
    if (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) {
      const [sub, subClean] = walk(field.message as DescMessage, buf, s, s + n, depth + 1);
      if (!subClean) {
        const body = join(sub);
        chunks.push(buf.subarray(at, tagEnd), new Uint8Array(varintBytes(body.length)), body);
        clean = false;
        continue;
      }
    } else if (wire !== main) {
      checkPacked(buf, s, s + n, main);
    }
    chunks.push(buf.subarray(at, r.pos));
  }
  return [chunks, clean];
}

/**
 * `data` checked as message `desc` by upb's rules: throws {@link WireError} where upb finds
 * the wire format corrupt; returns the bytes without the fields upb would keep as unknown.
 */
export function wireChecked(desc: DescMessage, data: Uint8Array): Uint8Array {
  const [chunks, clean] = walk(desc, data, 0, data.length, 0);
  return clean ? data : join(chunks);
}
