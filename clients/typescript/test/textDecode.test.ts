/**
 * Hostile input to TextState.decodeState: Python's verdicts on mutated states
 * (test/vectors/text/hostile_*.json, from tools/ts_text_vectors.py) must be ours, message
 * for message, with and without the document's history; plus hand-made cases and a
 * property: any mutation either throws InvalidValueError or decodes to a consistent state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { History, TextState } from "../src/core/text/index.js";
import { InvalidValueError, SyncKitError } from "../src/errors.js";

const DIR = resolve(import.meta.dirname, "..", "..", "test", "vectors", "text");

interface Outcome {
  error?: string;
  text?: string;
  used?: [number, [number[], number[]][]][];
}
interface HostileCase {
  ints: number[];
  content: string;
  deletes: number[];
  plain: Outcome;
  history: Outcome;
}
interface HostileReplica {
  clients: string[];
  version: number[];
  checkpoints: [number, [number, number][]][][];
  cases: HostileCase[];
}

/** What decodeState makes of a case, in the vectors' form. */
function outcome(r: HostileReplica, c: HostileCase, withHistory: boolean): Outcome {
  const history = withHistory
    ? new History([...r.version], r.checkpoints.map((cps) => cps.map(([s, deps]) => [s, new Map(deps)] as const)))
    : null;
  try {
    const st = TextState.decodeState(r.clients, c.ints, c.content, c.deletes, history);
    const out: Outcome = { text: st.toString() };
    if (history !== null) out.used = [...history.used.entries()];
    return out;
  } catch (e) {
    assert.ok(e instanceof InvalidValueError, `not an InvalidValueError: ${String(e)}`);
    return { error: e.message };
  }
}

for (const file of readdirSync(DIR).filter((f) => f.startsWith("hostile_")).sort()) {
  const vector = JSON.parse(readFileSync(join(DIR, file), "utf8")) as { name: string; replicas: HostileReplica[] };
  test(`hostile vectors ${vector.name}: Python's verdicts`, () => {
    let n = 0;
    for (const r of vector.replicas) {
      for (const c of r.cases) {
        assert.deepEqual(outcome(r, c, false), c.plain, `plain ${JSON.stringify(c.ints)}`);
        assert.deepEqual(outcome(r, c, true), c.history, `history ${JSON.stringify(c.ints)}`);
        n++;
      }
    }
    assert.ok(n > 20);
  });
}

/** A state with two writers, deleted runs both ways and astral characters. */
function sample(): { names: string[]; st: TextState } {
  const names = ["bob", "amy"];
  const a = new TextState(names);
  a.localInsert(0, 1, 0, "h😀llo wörld");
  a.localDelete(0, 12, 3, 2);
  const b = new TextState(names);
  for (const op of a.opsSince(0, 0)) {
    if (op[0] === "i") b.applyInsert(0, op[1], op[2], op[3], op[4]);
    else b.applyDelete(0, op[1], op[2], op[3], op[4]);
  }
  b.localInsert(1, 1, 2, "🎉x");
  b.localDelete(1, 3, 6, 1);
  b.localDelete(1, 4, 5, 1); // backspace: a run with a negative count
  return { names, st: b };
}

function throwsInvalid(f: () => unknown, message?: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof InvalidValueError && e instanceof SyncKitError, String(e));
    if (message !== undefined) assert.equal(e.message, message);
    return true;
  });
}

test("hand-made hostile states", () => {
  const { names, st } = sample();
  const { ints, content, deletes } = st.encodeState();
  assert.ok(deletes.some((v) => v < 0), "the sample has a backspace run");
  const ok = TextState.decodeState(names, ints, content, deletes);
  assert.equal(ok.toString(), st.toString());
  // every truncation of the item columns
  for (let k = 0; k < ints.length; k++) throwsInvalid(() => TextState.decodeState(names, ints.slice(0, k), content, deletes));
  // and of the delete columns (unless the cut falls between two clients' logs)
  throwsInvalid(() => TextState.decodeState(names, ints, content, deletes.slice(0, deletes.length - 1)), "text state: truncated");
  throwsInvalid(() => TextState.decodeState(names, [...ints, 0], content, deletes), "text state: trailing ints");
  throwsInvalid(() => TextState.decodeState(names, [3, ...ints.slice(1)], content, deletes), "text state: unknown format (this version reads 2)");
  throwsInvalid(() => TextState.decodeState(["bob"], ints, content, deletes), "text state: item client out of range");
  throwsInvalid(() => TextState.decodeState(names, ints, content + "x", deletes), "text state: content length does not match the items");
  throwsInvalid(() => TextState.decodeState(names, ints, content, [7, ...deletes.slice(1)]), "text state: bad delete log client");
  throwsInvalid(() => TextState.decodeState(names, [2, 1e9, ...ints.slice(2)], content, deletes), "text state: bad run lengths");
  // a run as long as it says, with nothing after it
  throwsInvalid(() => TextState.decodeState(names, [2, 1e15, 1, 0, 1e15], "", []), "text state: truncated");
  throwsInvalid(() => TextState.decodeState(names, [2, 2 ** 60, ...ints.slice(2)], content, deletes));
  throwsInvalid(() => TextState.decodeState(names, [2n, 2n ** 63n, ...ints.slice(2).map(BigInt)], content, deletes), "text state: bad value (not an integer in range)");
  throwsInvalid(() => TextState.decodeState(names, [2, 1.5, ...ints.slice(2)], content, deletes));
  // bigints (as protobuf-es gives sint64) decode like numbers
  const big = TextState.decodeState(names, ints.map(BigInt), content, deletes.map(BigInt));
  assert.deepEqual(big.encodeState(), st.encodeState());
});

test("decoded states of mutated columns are errors or consistent states", () => {
  const { names, st } = sample();
  const { ints, content, deletes } = st.encodeState();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.nat(1000), fc.integer({ min: -5, max: 5 })), { minLength: 1, maxLength: 3 }),
      (muts) => {
        const i2 = [...ints];
        const d2 = [...deletes];
        for (const [inInts, at, delta] of muts) {
          const arr = inInts || !d2.length ? i2 : d2;
          arr[at % arr.length] = arr[at % arr.length]! + delta;
        }
        let dec: TextState;
        try {
          dec = TextState.decodeState(names, i2, content, d2);
        } catch (e) {
          assert.ok(e instanceof InvalidValueError, String(e));
          return;
        }
        // a state that decodes works: its encoding is stable and it takes edits
        const enc = dec.encodeState();
        assert.equal(enc.content, content);
        const again = TextState.decodeState(names, enc.ints, enc.content, enc.deletes);
        assert.deepEqual(again.encodeState(), enc);
        dec.localInsert(0, 1000, dec.length, "z");
        assert.equal(dec.toString(), content + "z");
      },
    ),
    { numRuns: 500 },
  );
});
