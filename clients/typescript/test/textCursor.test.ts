/** Cursors over a TextState: made at positions, moved by edits, encoded as protobuf and JSON. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TextState } from "../src/core/text/index.js";
import { Cursor, textCursor, textPosition } from "../src/core/cursor.js";
import { DecodeError, PositionError } from "../src/errors.js";

test("cursors follow their character through edits on another replica", () => {
  const names = ["amy", "bob"];
  const index = new Map(names.map((n, i) => [n, i]));
  const a = new TextState(names);
  a.localInsert(0, 1, 0, "ab😀cd");
  const next = textCursor(a, names, "t", 3); // before "c"
  const prev = textCursor(a, names, "t", 3, "previous"); // after "😀"
  assert.deepEqual(next.toJSON(), { text: "t", client: "amy", seq: 4, bind: "next" });
  assert.deepEqual(prev.toJSON(), { text: "t", client: "amy", seq: 3, bind: "previous" });
  a.localInsert(0, 6, 3, "XY"); // typed exactly at the cursors
  assert.equal(textPosition(a, index, "t", next), 5);
  assert.equal(textPosition(a, index, "t", prev), 3);
  a.localDelete(0, 8, 2, 4); // deletes 😀XYc: both characters gone, cursors stay where they were
  assert.equal(a.toString(), "abd");
  assert.equal(textPosition(a, index, "t", next), 2);
  assert.equal(textPosition(a, index, "t", prev), 2);
  // ends of the text, unknown writers, never-written texts
  const end = textCursor(a, names, "t", 3);
  assert.equal(end.client, null);
  assert.equal(textPosition(a, index, "t", end), 3);
  assert.equal(textPosition(a, index, "t", textCursor(a, names, "t", 0, "previous")), 0);
  assert.equal(textPosition(a, index, "t", new Cursor("t", "zed", 1)), null);
  assert.equal(textPosition(null, index, "t", next), null);
  assert.equal(textPosition(a, index, "t", new Cursor("t", "amy", 99)), null);
  assert.throws(() => textCursor(a, names, "t", 4), PositionError);
  assert.throws(() => textPosition(a, index, "u", next));
});

test("cursor encodings round-trip and refuse bad input", () => {
  for (const c of [new Cursor("t", "amy", 7, "previous"), new Cursor("notes", null, 0, "next")]) {
    assert.deepEqual(Cursor.decode(c.encode()), c);
    assert.deepEqual(Cursor.fromJSON(JSON.parse(JSON.stringify(c))), c);
  }
  // the bytes Python writes for Cursor("t", "amy", 7, "previous"): fields 1, 2, 3, 4
  assert.deepEqual([...new Cursor("t", "amy", 7, "previous").encode()], [10, 1, 116, 18, 3, 97, 109, 121, 24, 7, 32, 1]);
  assert.throws(() => Cursor.decode(Uint8Array.from([10, 0])), DecodeError); // no text name
  assert.throws(() => Cursor.decode(Uint8Array.from([10, 1, 116, 24, 3])), DecodeError); // seq without client
  assert.throws(() => Cursor.decode(Uint8Array.from([10, 1, 116, 32, 5])), DecodeError); // unknown bind
  assert.throws(() => Cursor.decode(Uint8Array.from([10, 5, 116])), DecodeError); // truncated
  assert.throws(() => Cursor.fromJSON({ text: "t", client: "a", seq: 0, bind: "next" }), DecodeError);
  assert.throws(() => Cursor.fromJSON({ text: "t", client: null, seq: 0 }), DecodeError);
  assert.throws(() => Cursor.fromJSON([1]), DecodeError);
});
