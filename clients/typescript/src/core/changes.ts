/**
 * What a document sends: the operations a replica at some version lacks, cut into changes
 * (Python: `_changes.py`).
 *
 * For each client, the operations after the seq `since` holds come from the document's
 * log, the fields (the latest write of each; the seq of a write that lost becomes a SKIP)
 * and each text's history, merged in seq order, then cut at the client's checkpoints so
 * every change carries the dependencies its author had.
 */
import { InvalidTypeError } from "../errors.js";
import { ChangeSetWriter, NO_DEPS, type Deps } from "./codec.js";
import type { Document } from "./document.js";
import type { Checkpoint } from "./text/index.js";
import { DELETED } from "./map.js";
import * as K from "./ops.js";
import { bisectRight, opWidth, seqOf, splitOp, type Op } from "./ops.js";
import { copyRaw } from "./pyjson.js";
import { VersionVector } from "./version.js";

/** `Document.changes(since, until)`: see {@link Document.changes}. */
export function changes(doc: Document, since: VersionVector | null, until: VersionVector | null): Uint8Array {
  for (const [name, vv] of [["since", since], ["until", until]] as const) {
    if (vv !== null && !(vv instanceof VersionVector)) throw new InvalidTypeError(`${name} must be a VersionVector or null`);
  }
  const writer = new ChangeSetWriter(doc._clients);
  doc._vv.forEach((held, c) => {
    const id = doc._clients[c] as string;
    const after = since?.get(id) ?? 0;
    let have = held;
    if (until !== null) have = Math.min(have, until.get(id));
    if (have > after) writeClient(doc, writer, c, after, have);
  });
  return writer.toBytes();
}

/** Client `c`'s operations after seq `after` in seq order, gaps filled by SKIPs. */
export function opsSince(doc: Document, c: number, after: number): Op[] {
  const log = doc._log[c] as Op[];
  let ops: Op[] = [];
  const lastOp = log[log.length - 1];
  if (lastOp !== undefined && lastOp[1] + opWidth(lastOp) - 1 > after) {
    const i = bisectRight(log, after, seqOf);
    ops = log.slice(i);
    if (i > 0) {
      const prev = log[i - 1] as Op;
      if (prev[0] === K.SKIP && prev[1] + prev[2] - 1 > after) ops.unshift([K.SKIP, after + 1, prev[1] + prev[2] - 1 - after]);
    }
  }
  let sources = ops.length ? 1 : 0;
  if ((doc._fieldTop[c] as number) > after) {
    sources += 2;
    const entries = [...doc._fields];
    for (let j = entries.length - 1; j >= 0; j--) {
      const [name, entry] = entries[j] as [string, readonly [bigint, number, number, unknown]];
      const [hlc, w, seq, value] = entry;
      if (w === c) {
        if (seq <= after) break;
        if (value === DELETED) ops.push([K.FIELD_DELETE, seq, name, hlc]);
        else ops.push(copyRaw(entry, [K.FIELD_SET, seq, name, hlc, value as never]));
      }
    }
  }
  for (const [k, text] of doc._texts) {
    const textOps = text.opsSince(c, after);
    if (textOps.length) {
      sources += 1;
      const tname = doc._cids.get(k) as NonNullable<ReturnType<typeof doc._cids.get>>;
      for (const top of textOps) {
        if (top[0] === "i") ops.push([K.TEXT_INSERT, top[1], tname, top[2], top[3], top[4]]);
        else ops.push([K.TEXT_DELETE, top[1], tname, top[2], top[3], top[4]]);
      }
    }
  }
  if (sources > 1) ops.sort((a, b) => a[1] - b[1]);
  const filled: Op[] = [];
  let expect = after + 1;
  for (const op of ops) {
    if (op[1] > expect) filled.push([K.SKIP, expect, op[1] - expect]);
    filled.push(op);
    expect = op[1] + opWidth(op);
  }
  const top = doc._vv[c] as number;
  if (expect <= top) filled.push([K.SKIP, expect, top - expect + 1]);
  return filled;
}

function cut(c: number, ops: Op[], last: number): Op[] {
  const i = bisectRight(ops, last, seqOf);
  const kept = ops.slice(0, i);
  const op = kept[kept.length - 1];
  if (op !== undefined && op[1] + opWidth(op) - 1 > last) kept[kept.length - 1] = splitOp(c, op, last - op[1] + 1)[0];
  return kept;
}

function writeClient(doc: Document, writer: ChangeSetWriter, c: number, after: number, upto: number): void {
  let ops = opsSince(doc, c, after);
  if (upto < (doc._vv[c] as number)) ops = cut(c, ops, upto);
  const cps = doc._checkpoints[c] as Checkpoint[];
  const first = (ops[0] as Op)[1];
  if (!cps.length) {
    writer.add(c, first, NO_DEPS, ops);
    return;
  }
  const lastCp = cps[cps.length - 1] as Checkpoint;
  if (first >= lastCp[0]) {
    writer.add(c, first, lastCp[1], ops);
    return;
  }
  const last = cps.length - 1;
  let k = bisectRight(cps, first, (cp) => cp[0]) - 1;
  const deps = (j: number): Deps => (j >= 0 ? (cps[j] as Checkpoint)[1] : NO_DEPS);
  const startOf = (j: number): number => (cps[j] as Checkpoint)[0];
  let group: Op[] = [];
  for (let op of ops) {
    let seq = op[1];
    while (k < last && seq >= startOf(k + 1)) {
      if (group.length) {
        writer.add(c, (group[0] as Op)[1], deps(k), group);
        group = [];
      }
      k += 1;
    }
    while (k < last && seq + opWidth(op) - 1 >= startOf(k + 1)) {
      const [head, tail] = splitOp(c, op, startOf(k + 1) - seq);
      group.push(head);
      writer.add(c, (group[0] as Op)[1], deps(k), group);
      group = [];
      op = tail;
      seq = op[1];
      k += 1;
    }
    group.push(op);
  }
  if (group.length) writer.add(c, (group[0] as Op)[1], deps(k), group);
}
