/**
 * Golden vectors from the Python core (`tools/ts_text_vectors.py`): every call each Python
 * replica's TextState received is replayed on a TypeScript TextState, checking each
 * result, the final text, the encoded state (int for int), ops_since, char ids and
 * positions, and decoding of the Python-written state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { TextState } from "../src/core/text/index.js";
import type { ItemId } from "../src/core/ids.js";
import { checkInvariants } from "./textInvariants.js";

const DIR = resolve(import.meta.dirname, "..", "..", "test", "vectors", "text");

type Id = ItemId | null;
interface Replica {
  client: string;
  clients: string[];
  calls: unknown[][];
  text: string;
  state?: { ints: number[]; content: string; deletes: number[] };
  char_ids?: [number, [number, number]][];
  char_positions?: [number, number, [number, boolean] | null][];
  ops_since?: [number, number, unknown[]][];
}
interface Vector {
  name: string;
  converged: boolean;
  replicas: Replica[];
}

/** Replays a replica's calls on a fresh TextState, checking every result. */
export function replay(r: Replica): TextState {
  let st = new TextState(r.clients);
  r.calls.forEach((call, k) => {
    const where = `${r.client} call ${k} ${JSON.stringify(call)}`;
    switch (call[0]) {
      case "decode_state": {
        assert.equal(k, 0);
        const [, ints, content, deletes] = call as [string, number[], string, number[]];
        st = TextState.decodeState(r.clients, ints, content, deletes);
        break;
      }
      case "record_edits":
        st.recordEdits();
        break;
      case "take_edits":
        assert.deepEqual(st.takeEdits(), call[1], where);
        break;
      case "local_insert": {
        const [, c, seq, pos, content, result] = call as [string, number, number, number, string, unknown];
        assert.deepEqual(st.localInsert(c, seq, pos, content), result, where);
        break;
      }
      case "local_delete": {
        const [, c, seq, pos, len, result] = call as [string, number, number, number, number, unknown];
        assert.deepEqual(st.localDelete(c, seq, pos, len), result, where);
        break;
      }
      case "apply_insert": {
        const [, c, seq, left, right, content, checked] = call as [string, number, number, Id, Id, string, boolean];
        st.applyInsert(c, seq, left, right, content, checked);
        break;
      }
      case "apply_delete": {
        const [, c, seq, tc, tf, count, checked] = call as [string, number, number, number, number, number, boolean];
        st.applyDelete(c, seq, tc, tf, count, checked);
        break;
      }
      default:
        assert.fail(`unknown call ${String(call[0])}`);
    }
    checkInvariants(st);
  });
  return st;
}

const files = readdirSync(DIR).filter((f) => f.endsWith(".json") && !f.startsWith("hostile_") && f !== "deflate.json").sort();

test("there are text vectors", () => {
  assert.ok(files.length >= 5, `found ${files.length} in ${DIR}`);
});

for (const file of files) {
  const vector = JSON.parse(readFileSync(join(DIR, file), "utf8")) as Vector;
  test(`vector ${vector.name}`, async (t) => {
    assert.ok(vector.converged, "the Python replicas converged");
    for (const r of vector.replicas) {
      await t.test(`replica ${r.client}`, () => {
        const st = replay(r);
        assert.equal(st.toString(), r.text);
        assert.equal(st.length, Array.from(r.text).length);
        if (r.state === undefined) return;
        assert.deepEqual(st.encodeState(), r.state, "encodeState int for int");
        for (const [pos, id] of r.char_ids ?? []) assert.deepEqual(st.charId(pos), id, `charId(${pos})`);
        for (const [c, s, found] of r.char_positions ?? []) {
          assert.deepEqual(st.charPosition(c, s), found, `charPosition(${c}, ${s})`);
        }
        for (const [c, after, ops] of r.ops_since ?? []) {
          assert.deepEqual(st.opsSince(c, after), ops, `opsSince(${c}, ${after})`);
        }
        // The Python-written state decodes to the same text and encodes back the same.
        const dec = TextState.decodeState(r.clients, r.state.ints, r.state.content, r.state.deletes);
        assert.equal(dec.toString(), r.text);
        assert.deepEqual(dec.encodeState(), r.state);
        for (const [pos, id] of r.char_ids ?? []) assert.deepEqual(dec.charId(pos), id, `decoded charId(${pos})`);
      });
    }
  });
}
