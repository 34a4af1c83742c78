/**
 * The public API of the TypeScript core: misuse errors, views, events, versions, cursors,
 * snapshots and the 64-bit range checks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  changesProto, Cursor, DecodeError, Document, InvalidTypeError, InvalidValueError,
  NotFoundError, PositionError, SyncKitError, VersionVector, type ChangeEvent,
} from "../src/index.js";
import { dumps, pyFloatRepr } from "../src/core/values.js";

const clock = (): number => 1000;

test("fields: set, get, delete, update; values are copied both ways", () => {
  const doc = new Document("a", { clock });
  const value = { list: [1, 2], nested: { x: "y" } };
  doc.set("v", value);
  value.list.push(3);
  assert.deepEqual(doc.get("v"), { list: [1, 2], nested: { x: "y" } });
  (doc.get("v") as { list: number[] }).list.push(9);
  assert.deepEqual(doc.get("v"), { list: [1, 2], nested: { x: "y" } });
  doc.delete("v");
  assert.equal(doc.get("v", "gone"), "gone");
  doc.update({ a: 1, b: "two" });
  assert.deepEqual(doc.toJSON(), { a: 1, b: "two" });
  assert.equal(doc.version().get("a"), 4);
});

test("bad values are refused and change nothing", () => {
  const doc = new Document("a", { clock });
  let deep: unknown = 1;
  for (let i = 0; i < 65; i++) deep = [deep];
  for (const bad of [undefined, NaN, Infinity, () => 1, new Date(0), new Map(), 10n, Symbol("s"), "\ud800", { k: undefined }, deep]) {
    assert.throws(() => doc.set("f", bad), InvalidTypeError);
    assert.throws(() => doc.update({ ok: 1, f: bad }), InvalidTypeError);
  }
  assert.deepEqual(doc.toJSON(), {});
  assert.equal(doc.version().size, 0);
  let ok: unknown = 1;
  for (let i = 0; i < 64; i++) ok = [ok];
  doc.set("deep", ok);
  assert.throws(() => doc.getSet("s").add([1] as never), InvalidTypeError);
  assert.throws(() => doc.getCounter("c").increment(1.5), InvalidTypeError);
  assert.throws(() => doc.getList("l").insert(1, "x"), PositionError);
  assert.throws(() => doc.getSet("s").remove("missing"), NotFoundError);
  assert.throws(() => doc.getMap("m").set("\udc00", 1), InvalidTypeError);
});

test("a name belongs to one kind on a replica; a deleted field frees it", () => {
  const doc = new Document("a", { clock });
  doc.set("x", 1);
  assert.throws(() => doc.getList("x").append(1), InvalidTypeError);
  doc.getCounter("c").increment();
  assert.throws(() => doc.set("c", 1), InvalidTypeError);
  assert.throws(() => doc.getMap("c"), InvalidTypeError);
  doc.delete("x");
  doc.getList("x").append(1);
  assert.deepEqual(doc.toJSON(), { c: 1, x: [1] });
  const m = doc.getMap("m");
  m.set("v", 1);
  assert.throws(() => m.getList("v"), InvalidTypeError);
  m.getList("l").append(1);
  assert.throws(() => m.getMap("l"), InvalidTypeError);
});

test("all errors derive from SyncKitError", () => {
  for (const E of [DecodeError, InvalidTypeError, InvalidValueError, NotFoundError, PositionError]) {
    assert.ok(new E("x") instanceof SyncKitError);
    assert.equal(new E("x").name, E.name);
  }
});

test("the hybrid logical clock: a write that saw another wins even with a clock behind", () => {
  const ahead = new Document("a", { clock: () => 10_000 });
  const behind = new Document("b", { clock: () => 1_000 });
  ahead.set("f", "ahead");
  behind.apply(ahead.changes());
  behind.set("f", "behind, later");
  ahead.apply(behind.changes(ahead.version()));
  assert.equal(ahead.get("f"), "behind, later");
  assert.ok(behind._hlc > 10_000n << 16n);
});

test("a real clock works: clocks pass 2^53 and stay exact", () => {
  const a = new Document("a");
  const b = new Document("b");
  a.set("f", 1);
  b.apply(a.changes());
  assert.equal(b._hlc, a._hlc);
  assert.ok(a._hlc > BigInt(Number.MAX_SAFE_INTEGER));
  assert.equal(Document.load(a.save())._hlc, a._hlc);
});

test("subscribe: local and remote events name what changed, with nested paths", () => {
  const a = new Document("a", { clock });
  const b = new Document("b", { clock });
  const events: ChangeEvent[] = [];
  const off = b.subscribe((e) => events.push(e));
  a.set("f", 1);
  a.getList("todos").insertMap(0).set("done", false);
  b.apply(a.changes());
  b.getCounter("c").increment();
  off();
  b.set("g", 2);
  assert.equal(events.length, 2);
  assert.equal(events[0]?.local, false);
  assert.deepEqual([...(events[0]?.names ?? [])].sort(), ["f", "todos"]);
  assert.deepEqual(events[0]?.paths, [["todos", 0]]);
  assert.equal(events[1]?.local, true);
  assert.deepEqual([...(events[1]?.names ?? [])], ["c"]);
});

test("versions: compare, merge, encode and decode, with range checks", () => {
  const v1 = new VersionVector({ a: 1, b: 2 });
  const v2 = new VersionVector({ a: 2 });
  assert.equal(v1.compare(v2), "concurrent");
  assert.equal(v1.compare(v1.merge(v2)), "before");
  assert.equal(v1.merge(v2).compare(v1), "after");
  assert.equal(v1.compare(new VersionVector({ b: 2, a: 1, c: 0 })), "equal");
  assert.ok(VersionVector.decode(v1.encode()).equals(v1));
  assert.throws(() => new VersionVector({ "": 1 }), InvalidTypeError);
  assert.throws(() => new VersionVector({ a: -1 }), InvalidTypeError);
  const big = changesProto.encodeVersion({ clients: ["a"], seqs: [2n ** 60n] });
  assert.throws(() => VersionVector.decode(big), DecodeError);
  const twice = changesProto.encodeVersion({ clients: ["a", "a"], seqs: [1n, 2n] });
  assert.throws(() => VersionVector.decode(twice), DecodeError);
  assert.throws(() => VersionVector.decode(new Uint8Array([0xff])), DecodeError);
});

test("counter deltas are any sint64, kept exactly; other ints beyond 2^53 are refused", () => {
  const big = {
    format: 2, clients: ["a"], names: ["c"],
    changes: [{ client: 0, start: 1n, kinds: [3, 3], ints: [0n, 2n ** 60n, 0n, 1n] }],
  };
  const data = changesProto.encodeChangeSet(big);
  const doc = new Document("r");
  doc.apply(data);
  assert.equal(doc.getCounter("c").exact, 2n ** 60n + 1n);
  assert.deepEqual(Buffer.from(doc.changes()), Buffer.from(data));
  doc.getCounter("c").increment(2n ** 62n);
  assert.equal(Document.load(doc.save()).getCounter("c").exact, 2n ** 62n + 2n ** 60n + 1n);
  assert.throws(() => doc.getCounter("c").increment(2n ** 63n), InvalidValueError);
  // A skip of 2^60 seqs (the Python core takes it) cannot be held in a number.
  const skip = {
    format: 2, clients: ["b"], names: [],
    changes: [{ client: 0, start: 1n, kinds: [11], ints: [2n ** 60n] }],
  };
  const other = new Document("r");
  assert.throws(() => other.apply(changesProto.encodeChangeSet(skip)), DecodeError);
  assert.equal(other.version().size, 0);
  assert.deepEqual(other._clients, ["r"]);
});

test("changes(since, until) send a history in parts; merge pulls everything", () => {
  const a = new Document("a", { clock });
  const l = a.getList("l");
  for (let i = 0; i < 5; i++) l.append(i);
  const mid = a.version();
  for (let i = 0; i < 5; i++) l.append(i + 5);
  const b = new Document("b", { clock });
  b.apply(a.changes(mid));
  assert.equal(b.waiting, 1);
  b.apply(a.changes(null, mid));
  assert.equal(b.waiting, 0);
  assert.deepEqual(b.toJSON(), a.toJSON());
  const c = new Document("c", { clock });
  c.merge(a);
  assert.deepEqual(c.toJSON(), a.toJSON());
});

test("load with a client id that wrote into the snapshot continues its seqs", () => {
  const a = new Document("a", { clock });
  a.set("x", 1);
  a.getList("l").append(1);
  const again = Document.load(a.save(), "a", { clock });
  again.set("y", 2);
  assert.equal(again.version().get("a"), 3);
  const b = new Document("b", { clock });
  b.apply(again.changes());
  assert.deepEqual(b.toJSON(), { x: 1, y: 2, l: [1] });
});

test("snapshots: a flipped byte or a truncation is refused", () => {
  const a = new Document("a", { clock });
  a.set("x", "some value");
  const snap = a.save();
  assert.equal(snap[snap.length - 5], 0x5d);
  for (let i = 0; i < snap.length; i++) {
    const bad = snap.slice();
    bad[i] = (bad[i] as number) ^ 0x40;
    assert.throws(() => Document.load(bad), DecodeError);
    assert.throws(() => Document.load(snap.slice(0, i)), DecodeError);
  }
});

test("list cursors follow their item", () => {
  const doc = new Document("a", { clock });
  const l = doc.getList("l");
  for (const x of "abcd") l.append(x);
  const next = l.cursor(2);
  const prev = l.cursor(2, "previous");
  l.insert(0, "z");
  assert.equal(l.position(next), 3);
  assert.equal(l.position(prev), 3);
  l.move(3, 0);
  assert.equal(l.position(next), 0);
  const back = Cursor.decode(next.encode());
  assert.deepEqual(back, next);
  assert.deepEqual(Cursor.fromJSON(JSON.parse(JSON.stringify(prev)) as unknown), prev);
  assert.equal(l.position(l.cursor(l.length)), l.length);
  assert.throws(() => Cursor.decode(new Uint8Array([0x18, 0x01])), DecodeError);
});

test("JSON text is written as Python writes it", () => {
  const cases: [number, string][] = [
    [1.5, "1.5"], [1e-7, "1e-07"], [1e21, "1e+21"], [1e16, "1e+16"], [2 ** 53 - 1, "9007199254740991"], [-0, "0"],
    [0.0001, "0.0001"], [123456789.125, "123456789.125"], [-2.5e-300, "-2.5e-300"], [1e300, "1e+300"],
  ];
  for (const [x, s] of cases) assert.equal(dumps(x), s, String(x));
  assert.equal(pyFloatRepr(1e16), "1e+16");
  assert.equal(pyFloatRepr(1234.5), "1234.5");
  assert.equal(dumps({ s: "é\n\u0001\u2028🙂", a: [true, null] }), '{"s":"é\\n\\u0001\u2028🙂","a":[true,null]}');
});

test("a field operation naming a nested container is refused (the Python core crashes on it)", () => {
  // Made by the Python core's protobuf: FIELD_SET on name 1, a nested container's entry.
  const data = new Uint8Array(Buffer.from("08021201611a01781a0c005b302c226b222c302c305d221810012a020101320200023a058080c03e0042055b312c325d", "hex"));
  const doc = new Document("r");
  assert.throws(() => doc.apply(data), /names a nested container/);
  assert.deepEqual(doc.toJSON(), {});
  assert.equal(doc.version().size, 0);
});

test("map keys and set members come in Python's order (code points, then type tags)", () => {
  const doc = new Document("a", { clock });
  const m = doc.getMap("m");
  for (const k of ["\uffff", "😀", "é", "Z", "a", "\ue000"]) m.set(k, 1);
  // What the Python core gives for the same keys.
  assert.deepEqual(m.keys().map((k) => (k.codePointAt(0) as number).toString(16)), ["5a", "61", "e9", "e000", "ffff", "1f600"]);
  const s = doc.getSet("s");
  for (const v of ["\uffff", "😀", 2, 1.5, true, null, "", -1]) s.add(v);
  assert.deepEqual(s.values(), [true, 1.5, -1, 2, null, "", "\uffff", "😀"]);
});

test("a nested name with 1.0 for an index is refused, as Python refuses a float there", () => {
  const a = new Document("a", { clock });
  a.getMap("m").getList("l").append(1);
  const good = {
    format: 2, clients: ["a"], names: ["m", '\u0000[0,"l",0,0]'],
    changes: [{ client: 0, start: 1n, kinds: [14], ints: [0n, 2n, 0n, 0n], hlcs: [65536000n], strs: ["l"] }],
  };
  new Document("r").apply(changesProto.encodeChangeSet(good));
  good.names[1] = '\u0000[0.0,"l",0,0]';
  assert.throws(() => new Document("r").apply(changesProto.encodeChangeSet(good)), DecodeError);
});

test("Cursor.decode reads protobuf as Python does (outcomes taken from the Python core)", () => {
  const decode = (hex: string): Cursor => Cursor.decode(new Uint8Array(Buffer.from(hex, "hex")));
  assert.throws(() => decode("0a01740001"), DecodeError); // field number 0
  assert.throws(() => decode("0a0174a701"), DecodeError); // wire type 7
  assert.equal(decode("0a01742001").bind, "previous");
  assert.equal(decode("0a01741005").client, null); // client as a varint: skipped
});

test("a value spelling a lone surrogate is refused, as in Python; a pair or an escaped backslash is fine", () => {
  // Made by the Python core: a field set of "x" whose values JSON is ["\ud800"]; the values
  // field (8) comes last, so variants replace it.
  const head = Buffer.from("08021201611a0178", "hex"); // format, clients ["a"], names ["x"]
  const ops = Buffer.from("10012a01013201003a048080c03e", "hex"); // one FIELD_SET
  const withValues = (json: string): Uint8Array => {
    const body = Buffer.from(json, "utf8");
    const change = Buffer.concat([ops, Buffer.from([0x42, body.length]), body]);
    return new Uint8Array(Buffer.concat([head, Buffer.from([0x22, change.length]), change]));
  };
  for (const json of ['["\\ud800"]', '["ok \\uDFFF"]', '[{"\\udc00": 1}]']) {
    const doc = new Document("r");
    assert.throws(() => doc.apply(withValues(json)), /lone surrogate/, json);
    assert.deepEqual(doc.toJSON(), {});
  }
  const pair = new Document("r");
  pair.apply(withValues('["\\ud83d\\ude42"]'));
  assert.equal(pair.get("x"), "\u{1f642}");
  const text = new Document("r");
  text.apply(withValues('["\\\\ud800"]'));
  assert.equal(text.get("x"), "\\ud800");
});
