/**
 * Snapshots: `Document.save` and `Document.load` (Python: `_snapshot.py`).
 *
 * A snapshot holds the client table, the version, the dependency checkpoints, every
 * operation of the document's log and the latest write of each field as gap-free runs,
 * each text as its encoded state, the changes still waiting, and a CRC-32 of all that.
 * Loading checks everything before trusting it.
 */
import { DecodeError, InvalidTypeError, UnsupportedFormatError } from "../errors.js";
import { decodeSnapshot, encodeSnapshot, type Snapshot, type TextStateInit } from "../gen/synckit/v1/changes.js";
import { ChangeSetWriter, FORMAT, NO_DEPS, READS, checkClientTable, decodeChanges, parseChangeSet, resolveNames } from "./codec.js";
import { crc32 } from "./crc32.js";
import { Document, type DocumentOptions } from "./document.js";
import { DEFLATE_FROM, History, TextState, deflateContent, inflateContent, type Checkpoint } from "./text/index.js";
import { sortedUnion } from "./text/block.js";
import { ckey, type ContainerId, type ItemId } from "./ids.js";
import { DELETED } from "./map.js";
import * as K from "./ops.js";
import { bisectRight, cpLength, opWidth, type Op } from "./ops.js";
import { waitingChanges } from "./remote.js";
import { copyRaw } from "./pyjson.js";
import { toSafe } from "./version.js";

const CHECKSUM_TAG = (11 << 3) | 5;

/** `Document.save`: see {@link Document.save}. */
export function save(doc: Document): Uint8Array {
  const writer = new ChangeSetWriter(doc._clients);
  for (let c = 0; c < doc._clients.length; c++) writer.client(c);
  const perClient: Op[][] = doc._log.map((log) => [...log]);
  for (const [name, entry] of doc._fields) {
    const [hlc, c, seq, value] = entry;
    (perClient[c] as Op[]).push(value === DELETED ? [K.FIELD_DELETE, seq, name, hlc] : copyRaw(entry, [K.FIELD_SET, seq, name, hlc, value]));
  }
  perClient.forEach((ops, c) => {
    ops.sort((a, b) => a[1] - b[1]);
    let run: Op[] = [];
    for (const op of ops) {
      const last = run[run.length - 1];
      if (last !== undefined && last[1] + opWidth(last) !== op[1]) {
        writer.add(c, (run[0] as Op)[1], NO_DEPS, run);
        run = [];
      }
      run.push(op);
    }
    if (run.length) writer.add(c, (run[0] as Op)[1], NO_DEPS, run);
  });
  const texts: TextStateInit[] = [];
  for (const [k, text] of doc._texts) {
    const { ints, content, deletes } = text.encodeState();
    const state: TextStateInit = { name: writer.name(doc._cids.get(k) as ContainerId), ints, deletes };
    if (cpLength(content) >= DEFLATE_FROM) state.contentDeflate = deflateContent(content);
    else state.content = content;
    texts.push(state);
  }
  const flat: number[] = [];
  doc._checkpoints.forEach((cps, c) => {
    for (const [start, deps] of cps) {
      flat.push(c, start, deps.size);
      for (const [dc, ds] of deps) flat.push(dc, ds);
    }
  });
  const body = encodeSnapshot({
    format: FORMAT,
    clients: writer.clients,
    names: writer.names,
    versionClients: doc._clients.map((_, i) => i),
    versionSeqs: doc._vv,
    changes: writer.changes,
    texts,
    hlc: doc._hlc,
    pending: doc._pending.length ? waitingChanges(doc) : new Uint8Array(0),
    checkpoints: flat,
  });
  const out = new Uint8Array(body.length + 5);
  out.set(body);
  out[body.length] = CHECKSUM_TAG;
  new DataView(out.buffer).setUint32(body.length + 1, crc32(body), true);
  return out;
}

/** `Document.load`: see {@link Document.load}. */
export function load(data: Uint8Array, clientId: string | null, options: DocumentOptions): Document {
  if (!(data instanceof Uint8Array)) throw new InvalidTypeError("Document.load takes a Uint8Array");
  const n0 = data.length;
  const sealed = n0 >= 5 && data[n0 - 5] === CHECKSUM_TAG;
  const intact = sealed && crc32(data.subarray(0, n0 - 5)) === new DataView(data.buffer, data.byteOffset, n0).getUint32(n0 - 4, true);
  let snap: Snapshot;
  try {
    snap = decodeSnapshot(data);
  } catch (exc) {
    if (sealed && !intact) throw new DecodeError("snapshot: checksum mismatch (corrupt or truncated)");
    throw new DecodeError(`snapshot: truncated or not a protobuf Snapshot (${(exc as Error).message})`);
  }
  if (!READS.includes(snap.format)) {
    if (snap.format === 0) throw new DecodeError("snapshot: empty or not a Snapshot (no format version)");
    throw new UnsupportedFormatError(`snapshot: format version ${snap.format} is not supported (this release reads ${READS.join(", ")})`);
  }
  if (!sealed) throw new DecodeError("snapshot: truncated (the checksum at the end is missing)");
  if (!intact) throw new DecodeError("snapshot: checksum mismatch (corrupt or truncated)");
  const clients = [...snap.clients];
  checkClientTable(clients, "snapshot");
  const doc = new Document(clientId, options);
  doc._clients = [];
  doc._clientIndex = new Map();
  doc._vv = [];
  doc._log = [];
  doc._fieldTop = [];
  doc._checkpoints = [];
  for (const c of clients) doc._intern(c);
  doc._me = doc._intern(doc._clientId);
  try {
    loadBody(doc, snap, clients.length);
  } catch (exc) {
    if (exc instanceof DecodeError) throw exc;
    throw inconsistent((exc as Error).message);
  }
  return doc;
}

function inconsistent(what: string): DecodeError {
  return new DecodeError(`snapshot: inconsistent contents (${what})`);
}

function loadBody(doc: Document, snap: Snapshot, n: number): void {
  const names = resolveNames(snap.names, [...Array(n).keys()], snap.format, "snapshot");
  if (snap.versionClients.length !== snap.versionSeqs.length) throw new DecodeError("snapshot: version clients and seqs differ in number");
  snap.versionClients.forEach((vc, i) => {
    if (vc >= n) throw new DecodeError(`snapshot: version client index ${vc} outside the table`);
    doc._vv[vc] = toSafe(snap.versionSeqs[i] as bigint, "snapshot: version seq");
  });
  doc._hlc = snap.hlc;
  const flat = snap.checkpoints.map((v) => toSafe(v, "snapshot: checkpoint"));
  let i = 0;
  const at = (j: number): number => {
    if (j >= flat.length) throw inconsistent("checkpoints end too early");
    return flat[j] as number;
  };
  while (i < flat.length) {
    const c = at(i), start = at(i + 1), k = at(i + 2);
    if (c >= n || !(start >= 1) || k > n) throw new DecodeError("snapshot: invalid dependency checkpoint");
    const deps = new Map<number, number>();
    for (let j = 0; j < k; j++) deps.set(at(i + 3 + 2 * j), at(i + 4 + 2 * j));
    // A client named twice leaves fewer entries than the count (Python refuses it alike).
    if (deps.size !== k) throw new DecodeError("snapshot: invalid dependency checkpoint");
    for (const [dc, ds] of deps) {
      if (dc >= n || dc === c || ds > (doc._vv[dc] as number)) throw new DecodeError("snapshot: dependency checkpoint beyond the snapshot's version");
    }
    const cps = doc._checkpoints[c] as Checkpoint[];
    const last = cps[cps.length - 1];
    if (start > (doc._vv[c] as number) + 1 || (last !== undefined && last[0] >= start)) throw new DecodeError("snapshot: dependency checkpoints out of order");
    cps.push([start, deps.size ? deps : NO_DEPS]);
    i += 3 + 2 * k;
  }
  checkCausalOrder(doc._checkpoints);
  const history = new History(doc._vv, doc._checkpoints);
  const changes = decodeChanges(snap.changes, [...Array(n).keys()], names, "snapshot");
  const secondPass: [number, Op][] = [];
  const nested: [number, Op][] = []; // operations in nested containers
  const epochs: [number, K.MapCreateOp][] = []; // map creations that replace a write
  const ends = new Array<number>(n).fill(0); // per client, the last seq of its changes so far
  for (const ch of changes) {
    const log = doc._log[ch.client] as Op[];
    // In seq order, field writes included: the document keeps each client's field writes in
    // seq order (Document._fields), and `changes` relies on it.
    if (ch.start <= (ends[ch.client] as number)) throw new DecodeError("snapshot: a client's operations are out of order");
    ends[ch.client] = ch.end;
    if (ch.end > (doc._vv[ch.client] as number)) throw new DecodeError("snapshot: an operation lies beyond the snapshot's version");
    const writer = doc._clients[ch.client] as string;
    for (const op of ch.ops) {
      if (op[0] === K.TEXT_INSERT || op[0] === K.TEXT_DELETE) throw new DecodeError("snapshot: text operations belong in text states");
      if ((op[0] === K.FIELD_SET || op[0] === K.FIELD_DELETE) && typeof op[2] !== "string") {
        throw inconsistent("a field operation names a nested container");
      }
      if (op[0] !== K.FIELD_SET && op[0] !== K.FIELD_DELETE && op[0] !== K.SKIP) log.push(op); // (see remote.ts)
      if (Array.isArray(op[2])) nested.push([ch.client, op]);
      if (op[0] === K.MAP_CREATE && op[6] !== null) epochs.push([ch.client, op]);
      if (op[0] === K.LIST_MOVE || op[0] === K.LIST_DELETE || op[0] === K.SET_REMOVE) secondPass.push([ch.client, op]);
      else if (op[0] !== K.SKIP) doc._applyOp(ch.client, writer, op);
    }
  }
  for (const [c, op] of secondPass) {
    if (op[0] !== K.LIST_MOVE && op[0] !== K.LIST_DELETE && op[0] !== K.SET_REMOVE) continue;
    if (op[0] !== K.SET_REMOVE) {
      const lst = doc._lists.get(ckey(op[2]));
      if (!(lst !== undefined && lst.hasItem(op[3]))) throw new DecodeError("snapshot: a list operation refers to an unknown item");
    }
    const refs: readonly ItemId[] = op[0] === K.SET_REMOVE ? op[4] : [op[3]];
    if (!refs.every((r) => history.saw(c, op[1], r))) {
      throw new DecodeError("snapshot: an operation refers to an item made after it (or by a client it did not depend on)");
    }
    doc._applyOp(c, doc._clients[c] as string, op);
  }
  for (const [c, op] of nested) checkLoadedPath(doc, history, c, op[1], op[2] as ContainerId);
  for (const [c, op] of epochs) {
    if (!history.saw(c, op[1], op[6] as ItemId)) {
      throw new DecodeError("snapshot: a map operation replaces a write made after it (or by a client it did not depend on)");
    }
  }
  for (const ts of snap.texts) {
    if (ts.name >= names.length) throw new DecodeError("snapshot: text name index outside the name table");
    const tname = names[ts.name] as ContainerId;
    const k = ckey(tname);
    if (doc._texts.has(k)) throw new DecodeError(`snapshot: text ${k} appears twice`);
    let content = ts.content;
    if (ts.contentDeflate.length) {
      if (content) throw new DecodeError(`snapshot: text ${k} has both plain and deflated text`);
      content = inflateContent(ts.contentDeflate, doc._vv.reduce((a, b) => a + b, 0), show(tname));
    }
    const state = TextState.decodeState(doc._clients, ts.ints, content, ts.deletes, history);
    if (typeof tname !== "string") checkTextPath(doc, history, tname, state);
    doc._texts.set(k, state);
    doc._cids.set(k, tname);
  }
  checkLoadedOps(doc, history.used);
  if (snap.pending.length) {
    const msg = parseChangeSet(snap.pending);
    checkClientTable(msg.clients, "snapshot pending");
    const idx = msg.clients.map((c) => doc._intern(c));
    const pendingNames = resolveNames(msg.names, idx, msg.format, "snapshot pending");
    doc._pending = decodeChanges(msg.changes, idx, pendingNames, "snapshot pending");
  }
}

/**
 * The steps to the nested container of operation `c:seq` name what its author had seen:
 * each list item on the way held, each map epoch seen (as `apply` checks; else the
 * document's changes would be refused by every other replica). Python: `_check_loaded_path`.
 */
function checkLoadedPath(doc: Document, history: History, c: number, seq: number, cid: ContainerId): void {
  while (typeof cid !== "string") {
    const parent: ContainerId = cid[0];
    let ref: ItemId | null;
    if (cid.length === 2) {
      const lst = doc._lists.get(ckey(parent));
      if (!(lst !== undefined && lst.hasItem(cid[1]))) throw new DecodeError("snapshot: an operation is in the container of an unknown list item");
      ref = cid[1];
    } else {
      ref = cid[2];
    }
    if (ref !== null && !history.saw(c, seq, ref)) {
      throw new DecodeError("snapshot: an operation is in a container made after it (or by a client it did not depend on)");
    }
    cid = parent;
  }
}

/**
 * The path to the nested text `tname`, checked for its operations as `apply` checks the
 * changes `changes` makes of them: once per change, that is per client and checkpoint,
 * with the change's first operation in the text (the lowest seq is the strictest).
 * Python: `_check_text_path`.
 */
function checkTextPath(doc: Document, history: History, tname: ContainerId, text: TextState): void {
  for (const [c, runs] of text.opRuns()) {
    for (const seq of firstsPerCheckpoint(runs, doc._checkpoints[c] as Checkpoint[])) checkLoadedPath(doc, history, c, seq, tname);
  }
}

/**
 * The lowest seq of `runs` (`[first, last]` seq ranges of one client) after each of its
 * checkpoints that they reach, and before the first one. Python: `_firsts_per_checkpoint`.
 */
function firstsPerCheckpoint(runs: [number, number][], checkpoints: readonly Checkpoint[]): number[] {
  const sorted = [...runs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: number[] = [];
  let k = -2; // the checkpoint of the seq kept last (-1: before the first one)
  for (const [first, last] of sorted) {
    const j = bisectRight(checkpoints, first, (cp) => cp[0]) - 1;
    if (j > k) {
      out.push(first);
      k = j;
    }
    while (k + 1 < checkpoints.length && (checkpoints[k + 1] as Checkpoint)[0] <= last) {
      k += 1; // a run spans a checkpoint
      out.push((checkpoints[k] as Checkpoint)[0]);
    }
  }
  return out;
}

function show(name: ContainerId): string {
  return typeof name === "string" ? name : ckey(name);
}

function checkLoadedOps(doc: Document, textSeqs: Map<number, [number[], number[]][]>): void {
  const runs: [number, number][][] = doc._log.map((log) => log.map((op) => [op[1], opWidth(op)] as [number, number]));
  for (const [, c, seq] of doc._fields.values()) (runs[c] as [number, number][]).push([seq, 1]);
  runs.forEach((r, c) => checkSeqRuns(r, doc._vv[c] as number));
  for (let [c, parts] of textSeqs) {
    const own = runs[c] as [number, number][];
    if (own.length) {
      const ops = [...own].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      parts = [...parts, [ops.map(([f]) => f), ops.map(([f, w]) => f + w - 1)]];
    }
    let firsts: number[];
    let lasts: number[];
    if (parts.length === 1) {
      [firsts, lasts] = parts[0] as [number[], number[]];
    } else {
      firsts = sortedUnion(parts.map((p) => p[0]));
      lasts = sortedUnion(parts.map((p) => p[1]));
      for (let j = 0; j + 1 < firsts.length; j++) {
        if ((lasts[j] as number) >= (firsts[j + 1] as number)) throw new DecodeError(`snapshot: two operations of client ${c} share a seq`);
      }
    }
    if ((firsts[0] as number) < 1 || (lasts[lasts.length - 1] as number) > (doc._vv[c] as number)) {
      throw new DecodeError("snapshot: a text operation lies beyond the snapshot's version");
    }
  }
}

function checkCausalOrder(checkpoints: Checkpoint[][]): void {
  if (checkpoints.filter((cps) => cps.length).length < 2) return;
  const starts = checkpoints.map((cps) => cps.map((cp) => cp[0]));
  const base = [0];
  for (const cps of checkpoints) base.push((base[base.length - 1] as number) + cps.length + 1);
  const total = base[base.length - 1] as number;
  const waits = new Array<number>(total).fill(0);
  const unblocks: number[][] = Array.from({ length: total }, () => []);
  checkpoints.forEach((cps, c) => {
    cps.forEach(([, deps], j0) => {
      const j = j0 + 1;
      const node = (base[c] as number) + j;
      const before = [(base[c] as number) + j - 1];
      for (const [d, seq] of deps) before.push((base[d] as number) + bisectRight(starts[d] as number[], seq, (x) => x));
      for (const b of before) (unblocks[b] as number[]).push(node);
      waits[node] = (waits[node] as number) + before.length;
    });
  });
  const ready: number[] = [];
  waits.forEach((w, node) => {
    if (!w) ready.push(node);
  });
  let done = 0;
  while (ready.length) {
    const node = ready.pop() as number;
    done += 1;
    for (const after of unblocks[node] as number[]) {
      waits[after] = (waits[after] as number) - 1;
      if (!waits[after]) ready.push(after);
    }
  }
  if (done !== total) throw new DecodeError("snapshot: dependency checkpoints form a cycle (no causal order)");
}

function checkSeqRuns(runs: [number, number][], top: number): void {
  runs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let end = 0;
  for (const [first, width] of runs) {
    if (first <= end) throw new DecodeError(`snapshot: two operations share seq ${first}`);
    end = first + width - 1;
  }
  if (end > top) throw new DecodeError(`snapshot: operation seq ${end} lies beyond the snapshot's version`);
}
