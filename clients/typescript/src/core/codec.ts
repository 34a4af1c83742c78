/**
 * Encoding operations to the protobuf `synckit.v1` format and back (Python: `_codec.py`).
 *
 * Writers intern client ids and names into per-message tables in the order Python does, so
 * the same operations give the same bytes; readers check every index, count and value and
 * throw {@link DecodeError} naming what is wrong before anything touches a document.
 */
import { DecodeError, InvalidTypeError, UnsupportedFormatError } from "../errors.js";
import { decodeChangeSet, encodeChangeSet, type Change as PbChange, type ChangeInit, type ChangeSet } from "../gen/synckit/v1/changes.js";
import { ckey, depthOf, type ContainerId, type ItemId } from "./ids.js";
import { MAX_DEPTH } from "./child.js";
import * as K from "./ops.js";
import type { Op } from "./ops.js";
import { pythonElements, RAW } from "./pyjson.js";
import { toSafe } from "./version.js";
import { dumps, isWellFormed, loads, type JSONScalar, type JSONValue } from "./values.js";

/** The format version this release writes. */
export const FORMAT = 2;
/** The format versions this release reads (1: before nested containers). */
export const READS: readonly number[] = [1, 2];
const NESTED_MARK = "\u0000";
/** Seqs stay below this. */
export const MAX_SEQ = 2 ** 62;
const MAX_SEQ_BIG = 1n << 62n;
/** Clocks stay below this. */
export const MAX_HLC = 1n << 62n;

/** Dependencies: client index to seq, in the order they were written. */
export type Deps = ReadonlyMap<number, number>;
/** The shared empty dependencies. */
export const NO_DEPS: Deps = new Map();

/** A gap-free run of one client's operations and the versions of others it depends on. */
export class Change {
  /** The seq of the last operation. */
  readonly end: number;

  /**
   * @param client - the author's client index.
   * @param start - the seq of the first operation.
   * @param deps - the versions of other clients the author had seen.
   * @param ops - the operations, in seq order.
   */
  constructor(readonly client: number, readonly start: number, readonly deps: Deps, readonly ops: readonly Op[]) {
    const last = ops[ops.length - 1] as Op;
    this.end = last[1] + K.opWidth(last) - 1;
  }
}

/** Builds the client and name tables and the column-wise changes of one message. */
export class ChangeSetWriter {
  /** The client ids of the table, in order. */
  readonly clients: string[] = [];
  /** The names of the table, in order. */
  readonly names: string[] = [];
  /** The changes added so far. */
  readonly changes: ChangeInit[] = [];
  private readonly clientPos = new Map<number, number>();
  private readonly namePos = new Map<string, number>();

  /** @param clientIds - the document's client table. */
  constructor(private readonly clientIds: readonly string[]) {}

  /** The table position of document client `idx` (interning it). */
  client(idx: number): number {
    let pos = this.clientPos.get(idx);
    if (pos === undefined) {
      pos = this.clients.length;
      this.clientPos.set(idx, pos);
      this.clients.push(this.clientIds[idx] as string);
    }
    return pos;
  }

  /** The table position of `name` (interning it, parents first). */
  name(name: ContainerId): number {
    const k = ckey(name);
    let pos = this.namePos.get(k);
    if (pos === undefined) {
      let text: string;
      if (typeof name === "string") {
        text = name.startsWith(NESTED_MARK) ? NESTED_MARK + dumps(name) : name;
      } else {
        const parent = this.name(name[0]);
        let fields: JSONValue[];
        if (name.length === 3) {
          const epoch = name[2];
          fields = epoch === null ? [parent, name[1], 0, 0] : [parent, name[1], this.client(epoch[0]) + 1, epoch[1]];
        } else {
          fields = [parent, this.client(name[1][0]), name[1][1]];
        }
        text = NESTED_MARK + dumps(fields);
      }
      pos = this.names.length;
      this.namePos.set(k, pos);
      this.names.push(text);
    }
    return pos;
  }

  /** Append one change: `ops` of `client` starting at seq `start`. */
  add(client: number, start: number, deps: Deps, ops: readonly Op[]): void {
    const me = this.client(client); // interned first, as Python does
    const depClients: number[] = [];
    const depSeqs: number[] = [];
    for (const [c, s] of deps) {
      depClients.push(this.client(c));
      depSeqs.push(s);
    }
    const kinds: number[] = [];
    const ints: (number | bigint)[] = [];
    const hlcs: bigint[] = [];
    const values: string[] = [];
    const text = (holder: Op, v: JSONValue): string => RAW.get(holder) ?? dumps(v);
    const strs: string[] = [];
    const texts: string[] = [];
    let lastHlc = 0n;
    const hlc = (h: bigint): void => {
      hlcs.push(h - lastHlc);
      lastHlc = h;
    };
    for (const op of ops) {
      kinds.push(op[0]);
      if (op[0] === K.SKIP) {
        ints.push(op[2]);
        continue;
      }
      ints.push(this.name(op[2]));
      switch (op[0]) {
        case K.FIELD_SET: hlc(op[3]); values.push(text(op, op[4])); break;
        case K.TEXT_INSERT: {
          const [, , , left, right, content] = op;
          if (left === null) ints.push(0, 0);
          else ints.push(this.client(left[0]) + 1, left[1]);
          if (right === null) ints.push(0, 0, K.cpLength(content));
          else ints.push(this.client(right[0]) + 1, right[1], K.cpLength(content));
          texts.push(content);
          break;
        }
        case K.TEXT_DELETE: ints.push(this.client(op[3]), op[4], op[5]); break;
        case K.FIELD_DELETE: hlc(op[3]); break;
        case K.COUNTER_ADD: ints.push(op[3]); break;
        case K.SET_ADD: values.push(text(op, op[3])); break;
        case K.SET_REMOVE:
          ints.push(op[4].length);
          for (const [c, s] of op[4]) ints.push(this.client(c), s);
          values.push(text(op, op[3]));
          break;
        case K.LIST_INSERT: hlc(op[3]); values.push(text(op, op[4])); strs.push(op[5]); break;
        case K.LIST_MOVE: ints.push(this.client(op[3][0]), op[3][1]); hlc(op[4]); strs.push(op[5]); break;
        case K.LIST_DELETE: ints.push(this.client(op[3][0]), op[3][1]); break;
        case K.MAP_SET: hlc(op[4]); strs.push(op[3]); values.push(text(op, op[5])); break;
        case K.MAP_DELETE: hlc(op[4]); strs.push(op[3]); break;
        case K.MAP_CREATE: {
          hlc(op[4]);
          strs.push(op[3]);
          const epoch = op[6];
          if (epoch === null) ints.push(op[5], 0, 0);
          else ints.push(op[5], this.client(epoch[0]) + 1, epoch[1]);
          break;
        }
        case K.LIST_CREATE: hlc(op[3]); ints.push(op[4]); strs.push(op[5]); break;
        default: throw new Error(`unknown op kind ${String((op as Op)[0])}`);
      }
    }
    this.changes.push({
      client: me, start, depClients, depSeqs, kinds, ints, hlcs,
      values: values.length ? "[" + values.join(",") + "]" : "", strs, text: texts.join(""),
    });
  }

  /** Serialize as a `ChangeSet`. */
  toBytes(): Uint8Array {
    return encodeChangeSet({ format: FORMAT, clients: this.clients, names: this.names, changes: this.changes });
  }
}

/** Parse and version-check a `ChangeSet`; {@link DecodeError} if it is not one. */
export function parseChangeSet(data: Uint8Array): ChangeSet {
  if (!(data instanceof Uint8Array)) throw new InvalidTypeError("changes must be a Uint8Array");
  let msg: ChangeSet;
  try {
    msg = decodeChangeSet(data);
  } catch (exc) {
    throw new DecodeError(`changes: not a valid protobuf ChangeSet (${(exc as Error).message})`);
  }
  if (!READS.includes(msg.format)) {
    if (msg.format === 0 && !msg.changes.length && !msg.clients.length) {
      throw new DecodeError("changes: empty or not a ChangeSet (no format version)");
    }
    throw new UnsupportedFormatError(`changes: format version ${msg.format} is not supported (this release reads ${READS.join(", ")})`);
  }
  return msg;
}

/** Client ids must be non-empty and distinct. */
export function checkClientTable(clients: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const c of clients) {
    if (c === "") throw new DecodeError(`${what}: empty client id in the client table`);
    if (seen.has(c)) throw new DecodeError(`${what}: client id ${JSON.stringify(c)} appears twice in the client table`);
    seen.add(c);
  }
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

/**
 * The container ids a message's name table stands for (format 2: entries starting with
 * U+0000 are JSON). `clients` maps the message's client positions to document indexes.
 */
export function resolveNames(names: readonly string[], clients: readonly number[], fmt: number, what = "changes"): ContainerId[] {
  if (fmt === 1 || !names.some((t) => t.startsWith(NESTED_MARK))) return [...names];
  const out: ContainerId[] = [];
  names.forEach((text, i) => {
    if (!text.startsWith(NESTED_MARK)) {
      out.push(text);
      return;
    }
    const where = `${what}: name ${i}`;
    let entry: unknown;
    try {
      entry = loads(text.slice(1), where);
    } catch {
      throw new DecodeError(`${where} is neither a name nor a nested container`);
    }
    if (typeof entry === "string") {
      if (!entry.startsWith(NESTED_MARK)) throw new DecodeError(`${where}: a plain name needs no escaping`);
      if (!isWellFormed(entry)) throw new DecodeError(`${where}: the name is not valid Unicode (a lone surrogate)`);
      out.push(entry);
      return;
    }
    if (!Array.isArray(entry) || (entry.length !== 3 && entry.length !== 4)) {
      throw new DecodeError(`${where}: a nested container needs 3 or 4 fields`);
    }
    // Python tells 1.0 (a float) from 1: only the latter is an index or a seq.
    const texts = pythonElements(text.slice(1)) as string[];
    const fields = (entry as unknown[]).map((v, j) => (typeof v === "number" && /[.eE]/.test(texts[j] as string) ? 0.5 : v));
    const parent: unknown = fields[0];
    if (!isInt(parent) || !(0 <= parent && parent < i)) throw new DecodeError(`${where}: parent ${texts[0] ?? JSON.stringify(parent)} is not an earlier name`);
    const parentId = out[parent] as ContainerId;
    if (depthOf(parentId) + 1 > MAX_DEPTH) throw new DecodeError(`${where}: containers nest at most ${MAX_DEPTH} levels deep`);
    if (fields.length === 4) {
      const [, key, ec, es] = fields;
      if (typeof key !== "string" || !isInt(ec) || !isInt(es)) throw new DecodeError(`${where}: a map step is [parent, key, client, seq]`);
      if (!isWellFormed(key)) throw new DecodeError(`${where}: the key is not valid Unicode (a lone surrogate)`);
      out.push([parentId, key, ref(ec - 1, es, clients, where, true)]);
    } else {
      const [, ic, iseq] = fields;
      if (!isInt(ic) || !isInt(iseq)) throw new DecodeError(`${where}: a list step is [parent, client, seq]`);
      out.push([parentId, ref(ic, iseq, clients, where, false) as ItemId]);
    }
  });
  return out;
}

/** An item reference of a message, as document client indexes (null: none, if optional). */
export function ref(c: number, s: number, clients: readonly number[], where: string, optional: boolean): ItemId | null {
  if (optional && c === -1) {
    if (s !== 0) throw new DecodeError(`${where}: empty reference with a seq`);
    return null;
  }
  if (!(0 <= c && c < clients.length)) throw new DecodeError(`${where}: client index ${c} is outside the client table`);
  if (!(1 <= s && s < MAX_SEQ)) throw new DecodeError(`${where}: reference seq ${s} is out of range`);
  return [clients[c] as number, s];
}

/**
 * Turn protobuf changes into {@link Change}s. `clients` maps the message's client table
 * positions to document client indexes. Throws {@link DecodeError} naming the first problem.
 */
export function decodeChanges(changes: readonly PbChange[], clients: readonly number[], names: readonly ContainerId[], what = "changes"): Change[] {
  const out: Change[] = [];
  const nClients = clients.length;
  changes.forEach((msg, ci) => {
    const where = `${what}: change ${ci}`;
    if (msg.client >= nClients) throw new DecodeError(`${where}: client index ${msg.client} is outside the client table`);
    if (!(1n <= msg.start && msg.start < MAX_SEQ_BIG)) throw new DecodeError(`${where}: start seq ${msg.start} is out of range`);
    const start = toSafe(msg.start, `${where}: start seq`);
    if (msg.depClients.length !== msg.depSeqs.length) throw new DecodeError(`${where}: dependency clients and seqs differ in number`);
    const client = clients[msg.client] as number;
    const deps = new Map<number, number>();
    msg.depClients.forEach((dc, j) => {
      const dsBig = msg.depSeqs[j] as bigint;
      if (dc >= nClients) throw new DecodeError(`${where}: dependency client index ${dc} is outside the table`);
      if (dsBig >= MAX_SEQ_BIG) throw new DecodeError(`${where}: dependency seq ${dsBig} is out of range`);
      const ds = toSafe(dsBig, `${where}: dependency seq`);
      const dclient = clients[dc] as number;
      if (dclient === client) throw new DecodeError(`${where}: a change cannot depend on its own client`);
      if (ds) deps.set(dclient, Math.max(ds, deps.get(dclient) ?? 0));
    });
    if (!msg.kinds.length) throw new DecodeError(`${where}: no operations`);
    let raw: string[] | null = [];
    let values: JSONValue[] = [];
    if (msg.values) {
      try {
        raw = pythonElements(msg.values);
        if (raw !== null) values = raw.map((r) => loads(r, "values") as JSONValue);
      } catch (exc) {
        throw new DecodeError(`${where}: values are not valid JSON (${(exc as Error).message})`);
      }
    }
    if (raw === null) throw new DecodeError(`${where}: values must be a JSON array`);
    if (msg.values.includes("\\u") && LONE_SURROGATE.test(JSON.stringify(values))) {
      // An escape can spell a lone surrogate, which UTF-8 cannot carry: refused as Python
      // refuses it (a replica holding one could not encode its changes again).
      throw new DecodeError(`${where}: a value is not valid Unicode (a lone surrogate)`);
    }
    const ops = decodeOps(msg, start, clients, names, values, raw, where);
    out.push(new Change(client, start, deps, ops));
  });
  return out;
}

/**
 * JSON.stringify writes a lone surrogate as a `\\udXXX` escape (and a pair as itself); the
 * escape must follow an even number of backslashes (else it is a backslash's escape and text).
 */
const LONE_SURROGATE = /(?:^|[^\\])(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i;

class ColumnEnd extends Error {}

function decodeOps(msg: PbChange, start: number, clients: readonly number[], names: readonly ContainerId[], values: JSONValue[], raw: string[], where: string): Op[] {
  const ints = msg.ints;
  const hlcs = msg.hlcs;
  const strs = msg.strs;
  const text = msg.text ? Array.from(msg.text) : [];
  const nNames = names.length;
  const ops: Op[] = [];
  let seq = start;
  let hlc = 0n;
  let ii = 0, hi = 0, vi = 0, si = 0, ti = 0;
  const int = (): number => {
    if (ii >= ints.length) throw new ColumnEnd();
    return toSafe(ints[ii++] as number | bigint, `${where}: an int operand`);
  };
  const bigInt = (): bigint => {
    if (ii >= ints.length) throw new ColumnEnd();
    return BigInt(ints[ii++] as number | bigint);
  };
  const nextHlc = (): bigint => {
    if (hi >= hlcs.length) throw new ColumnEnd();
    hlc += hlcs[hi++] as bigint;
    if (!(0n <= hlc && hlc < MAX_HLC)) throw new DecodeError(`${where}: hybrid logical clock ${hlc} is out of range`);
    return hlc;
  };
  const value = (): JSONValue => {
    if (vi >= values.length) throw new ColumnEnd();
    return values[vi++] as JSONValue;
  };
  // Keep the Python text of the value just read where the value's own encoding differs.
  const keep = (op: Op, v: JSONValue): Op => {
    const r = raw[vi - 1] as string;
    if (r !== dumps(v)) RAW.set(op, r);
    return op;
  };
  const str = (): string => {
    if (si >= strs.length) throw new ColumnEnd();
    return strs[si++] as string;
  };
  try {
    for (const kind of msg.kinds) {
      const nm = int();
      let name: ContainerId = "";
      if (kind !== K.SKIP) {
        if (!(0 <= nm && nm < nNames)) throw new DecodeError(`${where}: name index ${nm} is outside the name table`);
        name = names[nm] as ContainerId;
      }
      switch (kind) {
        case K.FIELD_SET: {
          const h = nextHlc();
          if (typeof name !== "string") throw new DecodeError(`${where}: a field operation names a nested container`);
          const v = value();
          ops.push(keep([K.FIELD_SET, seq, name, h, v], v));
          seq += 1;
          break;
        }
        case K.TEXT_INSERT: {
          const lc = int(), ls = int(), rc = int(), rs = int(), n = int();
          if (!(0 < n && n <= text.length - ti)) throw new DecodeError(`${where}: text insert length ${n} is out of range`);
          const content = text.slice(ti, ti + n).join("");
          ti += n;
          const left = ref(lc - 1, ls, clients, where, true);
          const right = ref(rc - 1, rs, clients, where, true);
          ops.push([K.TEXT_INSERT, seq, name, left, right, content]);
          seq += n;
          break;
        }
        case K.TEXT_DELETE: {
          const tc = int(), tf = int(), count = int();
          const target = ref(tc, tf, clients, where, false) as ItemId;
          if (count === 0 || Math.abs(count) >= MAX_SEQ || tf + count < 0) throw new DecodeError(`${where}: text delete count ${count} is out of range`);
          ops.push([K.TEXT_DELETE, seq, name, target[0], target[1], count]);
          seq += Math.abs(count);
          break;
        }
        case K.FIELD_DELETE: {
          const h = nextHlc();
          if (typeof name !== "string") throw new DecodeError(`${where}: a field operation names a nested container`);
          ops.push([K.FIELD_DELETE, seq, name, h]);
          seq += 1;
          break;
        }
        case K.COUNTER_ADD:
          ops.push([K.COUNTER_ADD, seq, name, bigInt()]);
          seq += 1;
          break;
        case K.SET_ADD:
          const v = scalar(value(), where);
          ops.push(keep([K.SET_ADD, seq, name, v], v));
          seq += 1;
          break;
        case K.SET_REMOVE: {
          const n = int();
          if (!(0 <= n && n <= ints.length)) throw new DecodeError(`${where}: set remove tag count ${n} is out of range`);
          const tags: ItemId[] = [];
          for (let j = 0; j < n; j++) {
            const c = int(), s = int();
            tags.push(ref(c, s, clients, where, false) as ItemId);
          }
          const v = scalar(value(), where);
          ops.push(keep([K.SET_REMOVE, seq, name, v, tags], v));
          seq += 1;
          break;
        }
        case K.LIST_INSERT: {
          const h = nextHlc();
          const v = value();
          ops.push(keep([K.LIST_INSERT, seq, name, h, v, key(str(), where)], v));
          seq += 1;
          break;
        }
        case K.LIST_MOVE: {
          const c = int(), s = int();
          const item = ref(c, s, clients, where, false) as ItemId;
          const h = nextHlc();
          ops.push([K.LIST_MOVE, seq, name, item, h, key(str(), where)]);
          seq += 1;
          break;
        }
        case K.LIST_DELETE: {
          const c = int(), s = int();
          ops.push([K.LIST_DELETE, seq, name, ref(c, s, clients, where, false) as ItemId]);
          seq += 1;
          break;
        }
        case K.MAP_SET:
        case K.MAP_DELETE:
        case K.MAP_CREATE: {
          const h = nextHlc();
          const k = str();
          if (kind === K.MAP_SET) {
            const v = value();
            ops.push(keep([K.MAP_SET, seq, name, k, h, v], v));
          }
          else if (kind === K.MAP_DELETE) ops.push([K.MAP_DELETE, seq, name, k, h]);
          else {
            const child = int(), ec = int(), es = int();
            if (!(1 <= child && child <= K.CHILD_KINDS.length)) throw new DecodeError(`${where}: unknown container kind ${child}`);
            ops.push([K.MAP_CREATE, seq, name, k, h, child, ref(ec - 1, es, clients, where, true)]);
          }
          seq += 1;
          break;
        }
        case K.LIST_CREATE: {
          const h = nextHlc();
          const child = int();
          if (!(1 <= child && child <= K.CHILD_KINDS.length)) throw new DecodeError(`${where}: unknown container kind ${child}`);
          ops.push([K.LIST_CREATE, seq, name, h, child, key(str(), where)]);
          seq += 1;
          break;
        }
        case K.SKIP:
          if (!(1 <= nm && nm < MAX_SEQ)) throw new DecodeError(`${where}: skip count ${nm} is out of range`);
          ops.push([K.SKIP, seq, nm]);
          seq += nm;
          break;
        default:
          throw new DecodeError(`${where}: unknown operation kind ${kind}`);
      }
    }
  } catch (exc) {
    if (exc instanceof ColumnEnd) throw new DecodeError(`${where}: an operand column ends too early`);
    throw exc;
  }
  if (seq >= MAX_SEQ) throw new DecodeError(`${where}: seqs run past the maximum`);
  for (const [used, size, label] of [[ii, ints.length, "ints"], [hi, hlcs.length, "hlcs"], [vi, values.length, "values"], [si, strs.length, "strs"], [ti, text.length, "text"]] as const) {
    if (used !== size) throw new DecodeError(`${where}: ${label} column has more entries than the operations use`);
  }
  return ops;
}

function scalar(v: JSONValue, where: string): JSONScalar {
  if (v !== null && typeof v === "object") throw new DecodeError(`${where}: set member must be a JSON scalar, got ${Array.isArray(v) ? "list" : "dict"}`);
  return v;
}

const KEY_RE = /^[0-9A-Za-z]*[1-9A-Za-z]$/;

function key(k: string, where: string): string {
  if (!KEY_RE.test(k)) throw new DecodeError(`${where}: invalid list position key ${JSON.stringify(k)}`);
  return k;
}
