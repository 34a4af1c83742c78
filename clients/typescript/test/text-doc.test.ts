/**
 * Texts inside documents (the ts-text port wired into Document): editing, events with text
 * edits, cursors, nested texts; and the screen that reviews changes before they apply.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Document, InvalidTypeError, PositionError, type ChangeEvent, type ChangeReview } from "../src/index.js";

const clock = (): number => 1000;

test("text: insert, delete, merge; positions in code points", () => {
  const a = new Document("a", { clock });
  const b = new Document("b", { clock });
  const t = a.getText("notes");
  t.insert(0, "héllo 🙂 world");
  assert.equal(t.length, 13);
  t.delete(6, 2);
  assert.equal(t.toString(), "héllo world");
  b.apply(a.changes());
  b.getText("notes").insert(5, ",");
  a.getText("notes").insert(11, "!");
  a.apply(b.changes(a.version()));
  b.apply(a.changes(b.version()));
  assert.equal(a.getText("notes").toString(), "héllo, world!");
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.throws(() => t.insert(99, "x"), PositionError);
  assert.throws(() => t.delete(0, 99), PositionError);
  assert.throws(() => t.insert(0, "\ud800"), InvalidTypeError);
  assert.throws(() => a.getList("notes"), InvalidTypeError);
});

test("text events carry the edits, local and remote, nested ones by path", () => {
  const a = new Document("a", { clock });
  const b = new Document("b", { clock });
  const events: ChangeEvent[] = [];
  b.subscribe((e) => events.push(e));
  a.getText("t").insert(0, "abc");
  a.getMap("m").getText("body").insert(0, "xy");
  b.apply(a.changes());
  b.getText("t").delete(1, 1);
  assert.equal(events.length, 2);
  const remote = events[0] as ChangeEvent;
  assert.deepEqual([...remote.names].sort(), ["m", "t"]);
  assert.deepEqual(remote.textEdits.get("t")?.map((e) => [e.pos, e.deleted, e.inserted]), [[0, 0, "abc"]]);
  assert.deepEqual(remote.nestedTextEdits.get(JSON.stringify(["m", "body"]))?.map((e) => e.inserted), ["xy"]);
  const local = events[1] as ChangeEvent;
  assert.equal(local.local, true);
  assert.deepEqual(local.textEdits.get("t")?.map((e) => [e.pos, e.deleted, e.inserted]), [[1, 1, ""]]);
  assert.equal(local.textEdits.get("t")?.[0]?.applyTo("abc"), "ac");
});

test("text cursors move with the text; texts in list items", () => {
  const doc = new Document("a", { clock });
  const card = doc.getList("cards").insertText(0);
  card.insert(0, "hello");
  const c = card.cursor(2);
  card.insert(0, ">> ");
  assert.equal(card.position(c), 5);
  assert.deepEqual(doc.toJSON(), { cards: [">> hello"] });
  assert.equal(doc.getList("cards").getText(0).toString(), ">> hello");
  const other = Document.load(doc.save(), "b");
  assert.equal(other.getList("cards").getText(0).position(c), 5);
});

test("a screen sees the changes first, and refusing them changes nothing", () => {
  const a = new Document("a", { clock: () => 5000 });
  a.set("x", 1);
  a.getList("l").append("v");
  const data = a.changes();
  const b = new Document("b", { clock });
  let seen: ChangeReview | null = null;
  assert.throws(() => b.apply(data, { screen: (r) => { seen = r; throw new Error("no"); } }), /no/);
  assert.deepEqual((seen as unknown as ChangeReview).changes.map((c) => [c.client, c.start, c.end, c.maxClock > 0n]), [["a", 1, 2, true]]);
  assert.equal(b.version().size, 0);
  assert.deepEqual(b._clients, ["b"]);
  b.apply(data, { screen: (r) => assert.equal(r.held("a"), 0) });
  assert.deepEqual(b.toJSON(), { x: 1, l: ["v"] });
});

test("equivocation: two different operations under one client id and seq", () => {
  const a1 = new Document("a", { clock });
  const a2 = new Document("a", { clock });
  a1.getList("l").append("one");
  a2.getList("l").append("two");
  const b = new Document("b", { clock });
  b.apply(a1.changes());
  let found: unknown = "unset";
  b.apply(a2.changes(), { screen: (r) => { found = r.equivocation(); } });
  assert.deepEqual(found, { client: "a", seq: 1 });
  b.apply(a1.changes(), { screen: (r) => { found = r.equivocation(); } });
  assert.equal(found, null);
});

test("subscribers that do not read text edits get events without them", () => {
  const a = new Document("a", { clock });
  const b = new Document("b", { clock });
  const events: ChangeEvent[] = [];
  b.subscribe((e) => events.push(e), { textEdits: false });
  a.getText("t").insert(0, "abc");
  b.apply(a.changes());
  assert.equal(events.length, 1);
  assert.deepEqual([...(events[0] as ChangeEvent).names], ["t"]);
  assert.equal((events[0] as ChangeEvent).textEdits.size, 0);
  assert.equal(b.getText("t").toString(), "abc");
});

test("the todo app of docs/core.md", () => {
  const doc = new Document("alice", { clock });
  const item = doc.getList("todos").insertMap(0);
  item.set("title", "buy milk");
  item.set("done", false);
  item.getText("notes").insert(0, "oat, 2 litres");
  doc.getMap("stats").getCounter("done");
  assert.deepEqual(doc.toJSON(), { stats: { done: 0 }, todos: [{ done: false, notes: "oat, 2 litres", title: "buy milk" }] });
  const bob = new Document("bob", { clock });
  bob.apply(doc.changes());
  bob.getList("todos").getMap(0).set("done", true);
  doc.getList("todos").getMap(0).set("title", "buy oat milk");
  doc.apply(bob.changes(doc.version()));
  bob.apply(doc.changes(bob.version()));
  assert.deepEqual(doc.toJSON(), bob.toJSON());
  assert.deepEqual(doc.toJSON()["todos"], [{ done: true, notes: "oat, 2 litres", title: "buy oat milk" }]);
  const events: ChangeEvent[] = [];
  doc.subscribe((e) => events.push(e));
  doc.getList("todos").getMap(0).getText("notes").insert(0, "2x ");
  assert.deepEqual(events[0]?.paths, [["todos", 0, "notes"]]);
  assert.deepEqual(events[0]?.nestedTextEdits.get(JSON.stringify(["todos", 0, "notes"]))?.map((e) => e.inserted), ["2x "]);
});
