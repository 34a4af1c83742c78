/**
 * Looking at received changes before they apply: who wrote what, with which clocks, and
 * whether any of it contradicts what the document already holds (Python: `_screen.py`).
 *
 * `Document.apply(data, { screen })` decodes the changes, then calls `screen` with a
 * {@link ChangeReview} before anything in the document changes; whatever the screen throws
 * refuses the whole set and leaves the document exactly as it was.
 */
import { opsSince } from "./changes.js";
import type { Change } from "./codec.js";
import type { Document } from "./document.js";
import { ckey, type ContainerId } from "./ids.js";
import * as K from "./ops.js";
import { cpSplit, opWidth, type Op } from "./ops.js";
import { dumps, type JSONValue } from "./values.js";

const DELETED_CHAR = "\u0000";

/** One received change: its author's client id, the seqs it covers, its largest clock. */
export interface ChangeSummary {
  /** The author's client id. */
  readonly client: string;
  /** The first seq. */
  readonly start: number;
  /** The last seq. */
  readonly end: number;
  /** The largest clock among its operations (0 when none carries one). */
  readonly maxClock: bigint;
}

/** The first seq at which received changes contradict the document under `client`. */
export interface Equivocation {
  /** The client id. */
  readonly client: string;
  /** The seq. */
  readonly seq: number;
}

/** What a screen sees of the changes being applied (nothing has changed yet). */
export class ChangeReview {
  /** Every received change, in the order received. */
  readonly changes: readonly ChangeSummary[];

  /** @internal */
  constructor(private readonly doc: Document, private readonly received: readonly Change[]) {
    this.changes = received.map((ch) => ({
      client: doc._clients[ch.client] as string, start: ch.start, end: ch.end, maxClock: maxClock(ch.ops),
    }));
  }

  /** The last seq of `client` the document holds (0: none). */
  held(client: string): number {
    const index = this.doc._clientIndex.get(client);
    return index === undefined ? 0 : (this.doc._vv[index] ?? 0);
  }

  /**
   * The first (client, seq) where a received operation differs from the held one, or null.
   * Lost field writes, deleted characters and skipped seqs cannot be compared.
   */
  equivocation(): Equivocation | null {
    const doc = this.doc;
    for (const ch of this.received) {
      const have = doc._vv[ch.client] ?? 0;
      if (ch.start > have) continue;
      const held = new Map(units(ch.client, opsSince(doc, ch.client, ch.start - 1).filter((op) => op[1] <= Math.min(ch.end, have))));
      for (const [seq, unit] of units(ch.client, ch.ops)) {
        if (seq > have) break;
        const mine = held.get(seq);
        if (mine !== undefined && mine !== null && unit !== null && mine !== unit) {
          return { client: doc._clients[ch.client] as string, seq };
        }
      }
    }
    return null;
  }
}

/** Called with the review of received changes; throws to refuse them all. */
export type Screen = (review: ChangeReview) => void;

function maxClock(ops: readonly Op[]): bigint {
  let top = 0n;
  for (const op of ops) {
    let clock: bigint;
    switch (op[0]) {
      case K.FIELD_SET: case K.FIELD_DELETE: case K.LIST_INSERT: case K.LIST_CREATE: clock = op[3]; break;
      case K.LIST_MOVE: case K.MAP_SET: case K.MAP_DELETE: case K.MAP_CREATE: clock = op[4]; break;
      default: continue;
    }
    if (clock > top) top = clock;
  }
  return top;
}

function part(x: unknown): string {
  if (typeof x === "bigint") return `${x}n`;
  if (x === null || typeof x !== "object") return typeof x === "string" ? JSON.stringify(x) : String(x);
  return dumps(x as JSONValue);
}

/** Each seq an operation covers, with a string that identifies the operation there (null: not comparable). */
function units(client: number, ops: readonly Op[]): [number, string | null][] {
  const out: [number, string | null][] = [];
  for (const op of ops) {
    const seq = op[1];
    if (op[0] === K.SKIP) {
      for (let k = 0; k < opWidth(op); k++) out.push([seq + k, null]);
    } else if (op[0] === K.TEXT_INSERT) {
      const name = ckey(op[2]);
      let rest = op[5];
      for (let k = 0; rest; k++) {
        const [ch, tail] = cpSplit(rest, 1);
        rest = tail;
        const origin = k === 0 ? op[3] : [client, seq + k - 1];
        out.push([seq + k, ch === DELETED_CHAR ? null : JSON.stringify([op[0], name, origin, ch])]);
      }
    } else if (op[0] === K.TEXT_DELETE) {
      const step = op[5] > 0 ? 1 : -1;
      for (let k = 0; k < Math.abs(op[5]); k++) out.push([seq + k, JSON.stringify([op[0], ckey(op[2]), op[3], op[4] + k * step])]);
    } else {
      const parts = [String(op[0]), ckey(op[2] as ContainerId), ...op.slice(3).map(part)];
      out.push([seq, JSON.stringify(parts)]);
    }
  }
  return out;
}
