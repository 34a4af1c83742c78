/** Unit tests of TextState: local and remote edits, YATA ties, signed delete runs, astral characters, errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TextState, type TextOp } from "../src/core/text/index.js";
import { InvalidValueError, PositionError } from "../src/errors.js";
import { RefText } from "./textOracle.js";

/** Applies client `c`'s ops to `st`. */
function applyAll(st: TextState, c: number, ops: readonly TextOp[]): void {
  for (const op of ops) {
    if (op[0] === "i") st.applyInsert(c, op[1], op[2], op[3], op[4]);
    else st.applyDelete(c, op[1], op[2], op[3], op[4]);
  }
}

/** All orderings of `xs`. */
function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

test("local typing, origins and one growing item", () => {
  const st = new TextState(["me"]);
  assert.deepEqual(st.localInsert(0, 1, 0, "he"), [null, null]);
  assert.deepEqual(st.localInsert(0, 3, 2, "llo"), [[0, 2], null]);
  assert.equal(st.toString(), "hello");
  assert.equal(st.length, 5);
  assert.deepEqual(st.encodeState().ints.slice(0, 6), [2, 1, 1, 0, 1, 1]); // one item
  assert.deepEqual(st.localInsert(0, 6, 1, "E"), [[0, 1], [0, 2]]);
  assert.equal(st.toString(), "hEello");
  assert.deepEqual(st.charId(1), [0, 6]);
  assert.deepEqual(st.charId(2), [0, 2]);
  assert.deepEqual(st.opsSince(0, 5), [["i", 6, [0, 1], [0, 2], "E"]]);
  assert.deepEqual(st.opsSince(0, 0), [
    ["i", 1, null, null, "hello"], // items h, ello continue each other: one op
    ["i", 6, [0, 1], [0, 2], "E"],
  ]);
});

test("positions count code points: astral characters are one", () => {
  const st = new TextState(["me"]);
  st.localInsert(0, 1, 0, "a😀b𝄞");
  assert.equal(st.length, 4);
  assert.deepEqual(st.charId(3), [0, 4]);
  st.localInsert(0, 5, 2, "🎉");
  assert.equal(st.toString(), "a😀🎉b𝄞");
  assert.deepEqual(st.localDelete(0, 6, 1, 2), [[0, 2, 1], [0, 5, 1]]);
  assert.equal(st.toString(), "ab𝄞");
  assert.deepEqual(st.charPosition(0, 2), [1, false]);
  assert.deepEqual(st.charPosition(0, 4), [2, true]);
  assert.equal(st.charPosition(0, 99), null);
  const other = new TextState(["me"]);
  applyAll(other, 0, st.opsSince(0, 0));
  assert.equal(other.toString(), "ab𝄞");
  assert.deepEqual(other.encodeState(), st.encodeState());
});

test("backspace runs have negative counts, forward deletes positive ones", () => {
  const st = new TextState(["me"]);
  st.localInsert(0, 1, 0, "abcdefgh");
  for (let k = 0; k < 3; k++) st.localDelete(0, 9 + k, 7 - k, 1); // backspace h, g, f
  st.localDelete(0, 12, 1, 1); // forward delete b, c
  st.localDelete(0, 13, 1, 1);
  assert.equal(st.toString(), "ade");
  assert.deepEqual(st.opsSince(0, 8), [
    ["d", 9, 0, 8, -3],
    ["d", 12, 0, 2, 2],
  ]);
  // a remote replica applies the runs in both directions
  const r = new TextState(["me"]);
  applyAll(r, 0, st.opsSince(0, 0));
  assert.equal(r.toString(), "ade");
  assert.deepEqual(r.encodeState(), st.encodeState());
  // the rest of the backspace run after seq 10: one character, written with count 1
  assert.deepEqual(st.opsSince(0, 10), [
    ["d", 11, 0, 6, 1],
    ["d", 12, 0, 2, 2],
  ]);
});

test("concurrent inserts at one place: client id strings decide, not indexes", () => {
  // index 0 is "zed", index 1 is "amy": "amy" < "zed", so amy's text goes first
  const names = ["zed", "amy"];
  const z = new TextState(names);
  const a = new TextState(names);
  z.localInsert(0, 1, 0, "ZZ");
  a.localInsert(1, 1, 0, "aa");
  applyAll(z, 1, a.opsSince(1, 0));
  applyAll(a, 0, z.opsSince(0, 0));
  assert.equal(z.toString(), "aaZZ");
  assert.equal(a.toString(), "aaZZ");
  assert.deepEqual(a.encodeState(), z.encodeState());
});

test("remote inserts and deletes converge in every causal order", () => {
  const names = ["c", "a", "b"];
  const base = new TextState(names);
  base.localInsert(0, 1, 0, "0123456789");
  const baseOps = base.opsSince(0, 0);
  const replicas = [0, 1, 2].map((c) => {
    const st = new TextState(names);
    if (c === 0) st.localInsert(0, 1, 0, "0123456789");
    else applyAll(st, 0, baseOps);
    return st;
  });
  replicas[0]!.localInsert(0, 11, 5, "C😀");
  replicas[1]!.localInsert(1, 1, 5, "A");
  replicas[1]!.localDelete(1, 2, 2, 4);
  replicas[2]!.localInsert(2, 1, 5, "B");
  replicas[2]!.localDelete(2, 2, 4, 3);
  const updates: [number, TextOp[]][] = [
    [0, replicas[0]!.opsSince(0, 10)],
    [1, replicas[1]!.opsSince(1, 0)],
    [2, replicas[2]!.opsSince(2, 0)],
  ];
  let expected: string | null = null;
  let expectedState: unknown = null;
  for (const order of permutations(updates)) {
    const st = new TextState(names);
    applyAll(st, 0, baseOps);
    for (const [c, ops] of order) applyAll(st, c, ops);
    if (expected === null) {
      expected = st.toString();
      expectedState = st.encodeState();
    }
    assert.equal(st.toString(), expected);
    assert.deepEqual(st.encodeState().content, (expectedState as { content: string }).content);
  }
  const ref = new RefText(names);
  for (const op of baseOps) ref.apply(0, op);
  for (const [c, ops] of updates) for (const op of ops) ref.apply(c, op);
  assert.equal(expected, ref.toString());
});

test("recorded edits of remote ops", () => {
  const a = new TextState(["a", "b"]);
  a.localInsert(0, 1, 0, "hello");
  const b = new TextState(["a", "b"]);
  b.recordEdits();
  applyAll(b, 0, a.opsSince(0, 0));
  a.localDelete(0, 6, 1, 3);
  applyAll(b, 0, a.opsSince(0, 5));
  assert.deepEqual(b.takeEdits(), [
    [0, 0, "hello"],
    [1, 3, ""],
  ]);
  assert.deepEqual(b.takeEdits(), []);
});

test("bad arguments throw typed errors and change nothing", () => {
  const st = new TextState(["a", "b"]);
  st.localInsert(0, 1, 0, "abc");
  const before = st.encodeState();
  assert.throws(() => st.localInsert(0, 4, 4, "x"), PositionError);
  assert.throws(() => st.localInsert(0, 4, 1, ""), InvalidValueError);
  assert.throws(() => st.localDelete(0, 4, 2, 2), PositionError);
  assert.throws(() => st.localDelete(0, 4, 0, 0), InvalidValueError);
  assert.throws(() => st.charId(3), PositionError);
  assert.throws(() => st.applyInsert(1, 1, [0, 9], null, "x"), InvalidValueError);
  assert.throws(() => st.applyInsert(1, 1, null, [1, 5], "x"), InvalidValueError);
  assert.throws(() => st.applyInsert(0, 2, null, null, "x"), InvalidValueError); // ids not new
  assert.throws(() => st.applyDelete(1, 1, 0, 3, 2), InvalidValueError); // (0, 4) is unknown
  assert.throws(() => st.applyDelete(1, 1, 0, 1, 0), InvalidValueError);
  assert.deepEqual(st.encodeState(), before);
  assert.ok(st.hasItem([0, 3]) && !st.hasItem([0, 4]));
  assert.ok(st.hasRun(0, 3, -3) && !st.hasRun(0, 3, 2) && !st.hasRun(0, 1, 0));
});

test("remote typing grows one item; continuesRemote says so", () => {
  const a = new TextState(["a"]);
  const b = new TextState(["a"]);
  let seq = 1;
  for (const ch of "typing🙂") {
    const [l, r] = a.localInsert(0, seq, a.length, ch);
    if (seq > 2) assert.ok(b.continuesRemote(0, seq, l, r));
    b.applyInsert(0, seq, l, r, ch);
    seq++;
  }
  assert.equal(b.toString(), "typing🙂");
  assert.deepEqual(b.encodeState(), a.encodeState());
  assert.equal(b.encodeState().ints[1], 1); // one item
});

test("ties compare client ids by code point, as Python compares str", () => {
  // UTF-16 order would put "😀" (a surrogate pair, 0xD83D...) before "\uffff"; Python does not
  const names = ["\uffffa", "😀", "é"];
  const st = new TextState(names);
  st.applyInsert(1, 1, null, null, "B");
  st.applyInsert(0, 1, null, null, "A");
  st.applyInsert(2, 1, null, null, "C");
  assert.equal(st.toString(), "CAB"); // what the Python core gives
  assert.deepEqual(st.encodeState(), {
    ints: [2, 3, 3, 2, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 3, 0, 1, 2, 3, 0, 1, 2, 0, 0],
    content: "CAB",
    deletes: [],
  });
});
