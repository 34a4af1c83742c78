/**
 * Property test: 2-4 replicas make random inserts and deletes (astral characters
 * included), exchange their operations in random causal orders, and all converge to the
 * text of the reference model (test/textOracle.ts, a port of tests/core/text_oracle.py).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { TextState, type TextOp } from "../src/core/text/index.js";
import { RefText } from "./textOracle.js";
import { checkInvariants } from "./textInvariants.js";

const NAMES = ["mia", "bob", "zoë", "al", "𝒳y"];
const ALPHABET = ["a", "b", "c", "é", "😀", "𝄞", "\u4e2d"];

type Action =
  | { kind: "ins"; r: number; pos: number; text: string }
  | { kind: "del"; r: number; pos: number; len: number }
  | { kind: "sync"; r: number; from: number; upto: number };

const actionArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("ins" as const), r: fc.nat(3), pos: fc.nat(1000), text: fc.array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 4 }).map((a) => a.join("")) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("del" as const), r: fc.nat(3), pos: fc.nat(1000), len: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("sync" as const), r: fc.nat(3), from: fc.nat(3), upto: fc.nat(1000) }) },
);

/** Width of an op in seqs. */
const width = (op: TextOp): number => (op[0] === "i" ? Array.from(op[4]).length : Math.abs(op[4]));

test("replicas converge to the reference model under random edits and deliveries", () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 4 }), fc.array(actionArb, { maxLength: 60 }), (nrep, actions) => {
      const names = NAMES.slice(0, nrep);
      const reps = names.map(() => new TextState(names));
      const logs: TextOp[][] = names.map(() => []); // each client's ops, in seq order
      const nextSeq = names.map(() => 1);
      // delivered[r][c]: how many of client c's ops replica r has applied (a prefix: causal).
      const delivered = names.map((_, r) => names.map((_, c) => (c === r ? Infinity : 0)));
      // deps[c][k]: for op k of client c, the prefix lengths of every client it had seen.
      const deps: number[][][] = names.map(() => []);
      const deliver = (r: number, c: number, upto: number): void => {
        while (delivered[r]![c]! < upto) {
          const k = delivered[r]![c]!;
          // first deliver what that op depended on
          deps[c]![k]!.forEach((n, c2) => {
            if (c2 !== r && c2 !== c) deliver(r, c2, n);
          });
          const op = logs[c]![k]!;
          if (op[0] === "i") reps[r]!.applyInsert(c, op[1], op[2], op[3], op[4]);
          else reps[r]!.applyDelete(c, op[1], op[2], op[3], op[4]);
          delivered[r]![c] = k + 1;
        }
      };
      const local = (r: number, ops: TextOp[]): void => {
        for (const op of ops) {
          deps[r]!.push(delivered[r]!.map((n, c) => (c === r ? logs[r]!.length : n)));
          logs[r]!.push(op);
        }
      };
      for (const a of actions) {
        const r = a.r % nrep;
        const st = reps[r]!;
        if (a.kind === "ins") {
          const pos = a.pos % (st.length + 1);
          const seq = nextSeq[r]!;
          const [left, right] = st.localInsert(r, seq, pos, a.text);
          local(r, [["i", seq, left, right, a.text]]);
          nextSeq[r] = seq + Array.from(a.text).length;
        } else if (a.kind === "del") {
          if (!st.length) continue;
          const pos = a.pos % st.length;
          const len = Math.min(a.len, st.length - pos);
          let seq = nextSeq[r]!;
          const runs = st.localDelete(r, seq, pos, len);
          const ops: TextOp[] = [];
          for (const [c, f, n] of runs) {
            ops.push(["d", seq, c, f, n]);
            seq += n;
          }
          local(r, ops);
          nextSeq[r] = seq;
        } else {
          const from = a.from % nrep;
          if (from !== r) deliver(r, from, Math.min(logs[from]!.length, a.upto % (logs[from]!.length + 1)));
        }
      }
      // opsSince of every replica gives its own ops back as one history
      for (let c = 0; c < nrep; c++) {
        const own = reps[c]!.opsSince(c, 0);
        assert.equal(own.reduce((s, op) => s + width(op), 0), nextSeq[c]! - 1);
      }
      for (let r = 0; r < nrep; r++) for (let c = 0; c < nrep; c++) if (c !== r) deliver(r, c, logs[c]!.length);
      const ref = new RefText(names);
      // the reference applies every op in a causal order: round robin by dependencies
      const done = names.map(() => 0);
      let progress = true;
      while (progress) {
        progress = false;
        for (let c = 0; c < nrep; c++) {
          const k = done[c]!;
          if (k < logs[c]!.length && deps[c]![k]!.every((n, c2) => c2 === c || done[c2]! >= n)) {
            ref.apply(c, logs[c]![k]!);
            done[c] = k + 1;
            progress = true;
          }
        }
      }
      const expected = ref.toString();
      for (const st of reps) {
        checkInvariants(st);
        assert.equal(st.toString(), expected);
        // the state survives its own encoding
        const enc = st.encodeState();
        const dec = TextState.decodeState(names, enc.ints, enc.content, enc.deletes);
        assert.equal(dec.toString(), expected);
        assert.deepEqual(dec.encodeState(), enc);
      }
    }),
    { numRuns: 300 },
  );
});
