/**
 * Bad bytes: damaged change sets and snapshots (tools/ts_vectors.py, bad.json) are refused
 * with the error class Python raises, or read to the view Python reads; a refused change
 * set leaves the document exactly as it was.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DecodeError, Document, SyncKitError, UnsupportedFormatError } from "../src/index.js";
import { VECTORS } from "./helpers/replay.js";

interface BadCase {
  kind: "changes" | "snapshot";
  hex?: string;
  file?: string;
  cut?: number;
  at?: number;
  byte?: number;
  base?: string;
  error: string | null;
  json?: unknown;
  waiting?: number;
}

const cases = JSON.parse(readFileSync(join(VECTORS, "bad.json"), "utf8")) as BadCase[];

/** The bytes a case stands for: its hex, or a vector file cut short or with one byte changed. */
function bytes(c: BadCase): Uint8Array {
  if (c.hex !== undefined) return new Uint8Array(Buffer.from(c.hex, "hex"));
  const data = new Uint8Array(readFileSync(join(VECTORS, c.file as string)));
  if (c.cut !== undefined) return data.slice(0, c.cut);
  data[c.at as number] = c.byte as number;
  return data;
}

cases.forEach((c, i) => {
  test(`bad input ${i} (${c.kind}): ${c.error ?? "accepted"} as in Python`, () => {
    const data = bytes(c);
    if (c.kind === "changes") {
      const doc = c.base ? Document.load(new Uint8Array(readFileSync(join(VECTORS, c.base))), "reader") : new Document("reader");
      const before = Buffer.from(doc.save()).toString("hex");
      const view = JSON.stringify(doc.toJSON());
      try {
        doc.apply(data);
      } catch (exc) {
        assert.ok(exc instanceof SyncKitError, String(exc));
        assert.equal(exc.constructor.name, c.error, (exc as Error).message);
        assert.equal(Buffer.from(doc.save()).toString("hex"), before, "a refused change set changed the document");
        assert.equal(JSON.stringify(doc.toJSON()), view);
        return;
      }
      assert.equal(c.error, null, "Python refuses this change set");
      assert.deepEqual(doc.toJSON(), c.json);
      assert.equal(doc.waiting, c.waiting);
    } else {
      let doc: Document;
      try {
        doc = Document.load(data, "reader");
      } catch (exc) {
        assert.ok(exc instanceof SyncKitError, String(exc));
        assert.equal(exc.constructor.name, c.error, (exc as Error).message);
        return;
      }
      assert.equal(c.error, null, "Python refuses this snapshot");
      assert.deepEqual(doc.toJSON(), c.json);
      assert.equal(doc.waiting, c.waiting);
    }
  });
});

test("error classes: DecodeError for garbage, UnsupportedFormatError for a newer format", () => {
  const doc = new Document("a");
  assert.throws(() => doc.apply(new Uint8Array([0x08, 0x09])), UnsupportedFormatError);
  assert.throws(() => doc.apply(new Uint8Array([0x08, 0x09])), DecodeError);
  assert.throws(() => doc.apply(new Uint8Array(0)), DecodeError);
  assert.throws(() => Document.load(new Uint8Array([1, 2, 3])), DecodeError);
  assert.equal(doc.version().size, 0);
});

test("a snapshot with an operation in a nested container its author had not seen is refused, as in Python", () => {
  // fuzz/corpus/snapshot/resealed-nested-container-unseen: a resealed snapshot whose log sets a
  // key in a map made after that write (a map epoch its author had not seen). Loaded, its
  // changes would be refused by every other replica; both cores refuse it on load.
  const hostile = new Uint8Array(readFileSync(join(VECTORS, "..", "..", "..", "..", "fuzz", "corpus", "snapshot", "resealed-nested-container-unseen")));
  assert.throws(() => Document.load(hostile, "reader"), (exc: unknown) => exc instanceof DecodeError && /container made after it/.test((exc as Error).message));
});
