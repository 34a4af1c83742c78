/**
 * Applying changes from other replicas: `Document.apply` and `Document.merge` (Python:
 * `_remote.py`).
 *
 * 1. Plan: of the changes that arrived and those waiting, order the ones whose causal
 *    predecessors are all here, trimmed of what is held; the others wait.
 * 2. Check: every item an operation refers to exists and had been seen by its author. A bad
 *    change that arrived throws DecodeError, so bad bytes change nothing; a bad one that was
 *    waiting is dropped.
 * 3. Integrate: apply the planned changes in order and tell the subscribers.
 */
import { DecodeError } from "../errors.js";
import { Change, ChangeSetWriter, checkClientTable, decodeChanges, parseChangeSet, resolveNames } from "./codec.js";
import { sameDeps, type Document } from "./document.js";
import { TextEdit } from "./events.js";
import { PairHeap } from "./heap.js";
import { ckey, type ContainerId, type ItemId } from "./ids.js";
import { DELETED } from "./map.js";
import * as K from "./ops.js";
import { cpLength, opWidth, splitOp, type Op } from "./ops.js";
import { compareClock } from "./list.js";
import { copyRaw } from "./pyjson.js";
import { ChangeReview, type Screen } from "./screen.js";
import type { TextState } from "./text/index.js";

/** `Document.apply`: see {@link Document.apply}. */
export function apply(doc: Document, data: Uint8Array, screen: Screen | null = null): void {
  const [ready, waiting] = planApply(doc, data, screen);
  doc._pending = waiting;
  if (ready.length) {
    const subscribers = doc._subscribers;
    if (!subscribers.some((s) => !s.withoutTextEdits)) {
      const touched = integrate(doc, ready, null);
      if (subscribers.length) doc._emit(false, touched);
      return;
    }
    const edits = new Map<string, TextState>();
    const recorded = new Map<string, TextEdit[]>();
    let names: ContainerId[];
    try {
      names = integrate(doc, ready, edits);
    } finally {
      for (const [k, st] of edits) recorded.set(k, st.takeEdits().map(([p, d, i]) => new TextEdit(p, d, i)));
    }
    doc._emit(false, names, recorded);
  }
}

/**
 * @internal What {@link apply} would do with `data`: [the changes to apply, in order; the
 * changes left waiting]. Changes nothing but the client table (the clients `data` names).
 */
export function planApply(doc: Document, data: Uint8Array, screen: Screen | null = null): [Change[], Change[]] {
  const msg = parseChangeSet(data);
  const clientIds = [...msg.clients];
  checkClientTable(clientIds, "changes");
  const nClients = doc._clients.length;
  try {
    const idx = clientIds.map((c) => doc._intern(c));
    const resolved = resolveNames(msg.names, idx, msg.format);
    let incoming = decodeChanges(msg.changes, idx, resolved);
    if (screen !== null) screen(new ChangeReview(doc, incoming));
    if (doc._pending.length) incoming = incoming.filter((ch) => !isPending(doc, ch));
    return plan(doc, doc._pending, incoming);
  } catch (exc) {
    doc._forgetClientsFrom(nClients);
    throw exc;
  }
}

/** `Document.merge`: apply everything `other` holds that `doc` lacks. */
export function merge(doc: Document, other: Document): void {
  doc.apply(other.changes(doc.version()));
  if (other._pending.length) doc.apply(waitingChanges(other));
}

/** The changes waiting in `doc` for causal predecessors, as a `ChangeSet`. */
export function waitingChanges(doc: Document): Uint8Array {
  const writer = new ChangeSetWriter(doc._clients);
  for (const ch of doc._pending) writer.add(ch.client, ch.start, ch.deps, ch.ops);
  return writer.toBytes();
}

function isPending(doc: Document, ch: Change): boolean {
  return doc._pending.some((p) => p.client === ch.client && p.start <= ch.start && ch.end <= p.end);
}

/**
 * Order the changes that can apply now, trimmed of what is held; check every reference.
 * Touches nothing. Returns [ready in application order, still waiting].
 *
 * A change that cannot apply yet waits on the first thing it lacks - a seq of one client
 * (its author's previous one, or a dependency) - in a heap per client, and is looked at
 * again only once that client's version reaches it; the ones woken together go first, in
 * the order they arrived. (Python: `_plan`, which this must match step for step: the order
 * of `ready` is the order the changes are applied in.)
 */
function plan(doc: Document, pending: Change[], incoming: Change[]): [Change[], Change[]] {
  const vv = [...doc._vv];
  const created = new Created();
  const ready: Change[] = [];
  const wasPending = new Set(pending);
  const everything = [...pending, ...incoming];
  // (seq needed, position in `everything`) per client whose version it waits for.
  const parked = new Map<number, PairHeap>();
  const park = (client: number, seq: number, i: number): void => {
    let heap = parked.get(client);
    if (heap === undefined) parked.set(client, (heap = new PairHeap()));
    heap.push(seq, i);
  };
  const todo: number[] = [];
  for (let i = everything.length - 1; i >= 0; i--) todo.push(i); // popped from the end: in order
  while (todo.length) {
    const i = todo.pop() as number;
    let ch = everything[i] as Change;
    const have = vv[ch.client] as number;
    if (ch.end <= have) continue; // every op held already
    if (ch.start - 1 > have) {
      park(ch.client, ch.start - 1, i);
      continue;
    }
    let lacking = false;
    for (const [d, s] of ch.deps) {
      if ((vv[d] as number) < s) {
        park(d, s, i);
        lacking = true;
        break;
      }
    }
    if (lacking) continue;
    const original = ch;
    if (ch.start <= have) ch = trimChange(ch, have);
    const mark = created.mark();
    try {
      checkRefs(doc, ch, created);
    } catch (exc) {
      if (!(exc instanceof DecodeError) || !wasPending.has(original)) throw exc;
      created.rollback(mark);
      continue; // drop it: it can never apply
    }
    vv[ch.client] = ch.end;
    ready.push(ch);
    const heap = parked.get(ch.client);
    if (heap !== undefined && heap.topKey() <= ch.end) {
      const woken: number[] = [];
      while (heap.topKey() <= ch.end) woken.push(heap.pop()[1]);
      woken.sort((a, b) => b - a);
      for (const w of woken) todo.push(w); // the earliest first
    }
  }
  const left: number[] = [];
  for (const heap of parked.values()) for (const i of heap.indexes()) left.push(i);
  left.sort((a, b) => a - b);
  return [ready, left.map((i) => everything[i] as Change)];
}

function show(name: ContainerId): string {
  return typeof name === "string" ? JSON.stringify(name) : ckey(name);
}

function checkRefs(doc: Document, ch: Change, created: Created): void {
  const clientId = doc._clients[ch.client] as string;
  const author = ch.client;
  const deps = ch.deps;
  const unseen = (r: ItemId, seq: number): boolean => (r[0] === author ? r[1] >= seq : r[1] > (deps.get(r[0]) ?? 0));
  const refuse = (what: string, r: ItemId): DecodeError =>
    new DecodeError(`changes: ${what} ${doc._clients[r[0]]}:${r[1]}, which it had not seen`);
  const checked = new Set<string>();
  for (const op of ch.ops) {
    if (op[0] === K.SKIP) continue;
    const cid = op[2];
    if ((op[0] === K.FIELD_SET || op[0] === K.FIELD_DELETE) && typeof cid !== "string") {
      // (The Python core fails half-way through applying such an operation.)
      throw new DecodeError(`changes: field operation ${clientId}:${op[1]} names a nested container`);
    }
    if (typeof cid !== "string" && !checked.has(ckey(cid))) {
      checkPath(doc, cid, op[1], created, unseen, refuse, clientId);
      checked.add(ckey(cid));
    }
    switch (op[0]) {
      case K.TEXT_INSERT: {
        const text = doc._texts.get(ckey(cid));
        const n = cpLength(op[5]);
        if (text !== undefined && text.continuesRemote(author, op[1], op[3], op[4])) {
          const right = op[4];
          if (right !== null && unseen(right, op[1])) throw refuse(`text insert ${clientId}:${op[1]} in ${show(cid)} refers to`, right);
          created.add(cid, author, op[1], op[1] + n - 1, true);
          break;
        }
        for (const origin of [op[3], op[4]]) {
          if (origin === null) continue;
          if (!(created.holds(cid, origin, true) || (text !== undefined && text.hasItem(origin)))) {
            throw new DecodeError(`changes: text insert ${clientId}:${op[1]} in ${show(cid)} refers to an unknown character ${doc._clients[origin[0]]}:${origin[1]}`);
          }
          if (unseen(origin, op[1])) throw refuse(`text insert ${clientId}:${op[1]} in ${show(cid)} refers to`, origin);
        }
        created.add(cid, ch.client, op[1], op[1] + n - 1, true);
        break;
      }
      case K.TEXT_DELETE: {
        const text = doc._texts.get(ckey(cid));
        const first = op[4];
        const count = op[5];
        const [lo, hi] = count > 0 ? [first, first + count - 1] : [first + count + 1, first];
        if (!(created.holdsRun(cid, op[3], lo, hi, true) || (text !== undefined && text.hasRun(op[3], first, count)))) {
          const step = count > 0 ? 1 : -1;
          for (let i = 0; i < Math.abs(count); i++) {
            const target: ItemId = [op[3], first + i * step];
            if (!(created.holds(cid, target, true) || (text !== undefined && text.hasItem(target)))) {
              throw new DecodeError(`changes: text delete ${clientId}:${op[1]} in ${show(cid)} targets an unknown character ${doc._clients[target[0]]}:${target[1]}`);
            }
          }
        }
        if (unseen([op[3], hi], op[1])) throw refuse(`text delete ${clientId}:${op[1]} in ${show(cid)} targets`, [op[3], hi]);
        break;
      }
      case K.LIST_INSERT:
      case K.LIST_CREATE:
        created.add(cid, ch.client, op[1], op[1], false);
        break;
      case K.MAP_CREATE:
        if (op[6] !== null && unseen(op[6], op[1])) throw refuse(`map operation ${clientId}:${op[1]} replaces`, op[6]);
        break;
      case K.SET_REMOVE:
        for (const tag of op[4]) if (unseen(tag, op[1])) throw refuse(`set remove ${clientId}:${op[1]} in ${show(cid)} removes`, tag);
        break;
      case K.LIST_MOVE:
      case K.LIST_DELETE: {
        const lst = doc._lists.get(ckey(cid));
        const item = op[3];
        if (!((lst !== undefined && lst.hasItem(item)) || created.holds(cid, item, false))) {
          throw new DecodeError(`changes: list operation ${clientId}:${op[1]} in ${show(cid)} refers to an unknown item ${doc._clients[item[0]]}:${item[1]}`);
        }
        if (unseen(item, op[1])) throw refuse(`list operation ${clientId}:${op[1]} in ${show(cid)} refers to`, item);
        break;
      }
      default: break;
    }
  }
}

function checkPath(
  doc: Document, cid: ContainerId, seq: number, created: Created,
  unseen: (r: ItemId, seq: number) => boolean, refuse: (what: string, r: ItemId) => DecodeError, clientId: string,
): void {
  while (typeof cid !== "string") {
    const parent: ContainerId = cid[0];
    if (cid.length === 2) {
      const item = cid[1];
      const lst = doc._lists.get(ckey(parent));
      if (!((lst !== undefined && lst.hasItem(item)) || created.holds(parent, item, false))) {
        throw new DecodeError(`changes: operation ${clientId}:${seq} is in the container of an unknown list item ${doc._clients[item[0]]}:${item[1]}`);
      }
      if (unseen(item, seq)) throw refuse(`operation ${clientId}:${seq} is in the container of`, item);
    } else if (cid[2] !== null && unseen(cid[2], seq)) {
      throw refuse(`operation ${clientId}:${seq} is in a container made after`, cid[2]);
    }
    cid = parent;
  }
}

function integrate(doc: Document, ready: Change[], recording: Map<string, TextState> | null): ContainerId[] {
  const names: ContainerId[] = [];
  const clients = doc._clients;
  const fields = doc._fields;
  let topHlc = doc._hlc;
  const heads = doc._heads;
  const vv = doc._vv;
  for (const ch of ready) {
    const c = ch.client;
    const cps = doc._checkpoints[c] as [number, ReadonlyMap<number, number>][];
    const lastCp = cps[cps.length - 1];
    if (lastCp !== undefined ? !sameDeps(lastCp[1], ch.deps) : ch.deps.size > 0) cps.push([ch.start, ch.deps]);
    if (heads !== null) {
      // The latest operations it depends on are heads no more; it is one.
      for (const [d, s] of ch.deps) if (s >= (vv[d] as number)) heads.delete(d);
      heads.add(c);
    }
    const log = doc._log[c] as Op[];
    const writer = clients[c] as string;
    let fieldSeq = 0;
    for (const op of ch.ops) {
      if (op[0] === K.FIELD_SET || op[0] === K.FIELD_DELETE) {
        const name = op[2] as string;
        const hlc = op[3];
        if (hlc > topHlc) topHlc = hlc;
        fieldSeq = op[1];
        const cur = fields.get(name);
        if (cur === undefined || compareClock(hlc, writer, cur[0], clients[cur[1]] as string) > 0) {
          if (cur !== undefined) fields.delete(name);
          fields.set(name, copyRaw(op, [hlc, c, fieldSeq, op[0] === K.FIELD_SET ? op[4] : DELETED]));
        }
        names.push(name);
        continue;
      }
      if (op[0] === K.TEXT_INSERT || op[0] === K.TEXT_DELETE) {
        const state = doc._textState(op[2]);
        const k = ckey(op[2]);
        if (recording !== null && !recording.has(k)) {
          state.recordEdits();
          recording.set(k, state);
        }
        if (op[0] === K.TEXT_INSERT) state.applyInsert(c, op[1], op[3], op[4], op[5], true);
        else state.applyDelete(c, op[1], op[3], op[4], op[5], true);
        names.push(op[2]);
        continue;
      }
      // A SKIP is not logged: a gap in a client's log is a run of seqs holding nothing for
      // anyone (writes that lost), and changes() and save() write every gap as such.
      if (op[0] === K.SKIP) continue;
      log.push(op);
      doc._applyOp(c, writer, op);
      names.push(op[2]);
    }
    if (fieldSeq) doc._fieldTop[c] = Math.max(doc._fieldTop[c] as number, fieldSeq);
    doc._vv[c] = ch.end;
    if (topHlc > doc._hlc) doc._hlc = topHlc;
  }
  doc._depsStale = true;
  return names;
}

/**
 * Items (text characters, list items) created by the changes planned so far in one apply.
 * Text characters and list items are kept apart (Python `_created.Created` likewise): a
 * hostile change set may use one name for both a list and a text, and a text operation must
 * never be checked against a list item of that name, nor the reverse.
 */
class Created {
  private readonly runs = new Map<string, [number[], number[]]>();
  private readonly added: string[] = [];

  private static key(name: ContainerId, client: number, text: boolean): string {
    return `${text ? "t" : "l"}${client}\u0001${ckey(name)}`;
  }

  /** Record the run `first..last` of `client` made in container `name` (text characters or list items). */
  add(name: ContainerId, client: number, first: number, last: number, text: boolean): void {
    const k = Created.key(name, client, text);
    let runs = this.runs.get(k);
    if (runs === undefined) {
      runs = [[], []];
      this.runs.set(k, runs);
    }
    runs[0].push(first);
    runs[1].push(last);
    this.added.push(k);
  }

  /** A point to {@link rollback} to. */
  mark(): number {
    return this.added.length;
  }

  /** Forget every run added since `mark`. */
  rollback(mark: number): void {
    while (this.added.length > mark) {
      const runs = this.runs.get(this.added.pop() as string) as [number[], number[]];
      runs[0].pop();
      runs[1].pop();
    }
  }

  /** Whether one run made so far holds every seq `lo..hi` of `client`. */
  holdsRun(name: ContainerId, client: number, lo: number, hi: number, text: boolean): boolean {
    const runs = this.runs.get(Created.key(name, client, text));
    if (runs === undefined) return false;
    const i = K.bisectRight(runs[0], lo, (x) => x) - 1;
    return i >= 0 && hi <= (runs[1][i] as number);
  }

  /** Whether a run made so far holds `item`. */
  holds(name: ContainerId, item: ItemId, text: boolean): boolean {
    return this.holdsRun(name, item[0], item[1], item[1], text);
  }
}

function trimChange(ch: Change, have: number): Change {
  const ops: Op[] = [];
  for (let op of ch.ops) {
    const end = op[1] + opWidth(op) - 1;
    if (end <= have) continue;
    if (op[1] <= have) op = splitOp(ch.client, op, have + 1 - op[1])[1];
    ops.push(op);
  }
  return new Change(ch.client, have + 1, ch.deps, ops);
}
