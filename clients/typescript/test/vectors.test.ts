/**
 * Golden vectors written by the Python core (tools/ts_vectors.py): the TypeScript core
 * reads them to the same JSON views, and builds the same bytes from the same steps.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Document, VersionVector } from "../src/index.js";
import { loadScenarios, Replay, VECTORS } from "./helpers/replay.js";
import { deflates, inflated } from "./helpers/snapshots.js";

/** Snapshots agree byte for byte, or (a long text's DEFLATE bytes aside) once inflated. */
function sameSnapshot(actual: Uint8Array, expected: Uint8Array): void {
  if (deflates(expected)) assert.equal(inflated(actual), inflated(expected));
  else assert.equal(hex(actual), hex(expected));
}

const scenarios = loadScenarios();

function bin(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(VECTORS, name)));
}

interface Views {
  [replica: string]: { json: unknown; waiting: number };
}

const EXPECTED = JSON.parse(readFileSync(join(VECTORS, "expected.json"), "utf8")) as Record<string, { version: string; replicas: Views }>;

function views(name: string): Views {
  return (EXPECTED[name] as { replicas: Views }).replicas;
}

function version(name: string): Uint8Array {
  return new Uint8Array(Buffer.from((EXPECTED[name] as { version: string }).version, "hex"));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

for (const [name, scenario] of Object.entries(scenarios)) {
  const subject = Object.keys(scenario.replicas)[0] as string;
  const expected = views(name);

  test(`${name}: Python's change set applies to the same JSON view`, () => {
    const doc = new Document("reader");
    doc.apply(bin(`${name}.changes.bin`));
    assert.deepEqual(doc.toJSON(), expected[subject]?.json);
    assert.ok(doc.version().equals(VersionVector.decode(version(name))) || expected[subject]?.waiting);
  });

  test(`${name}: Python's snapshot loads to the same view and saves back byte for byte`, () => {
    const snap = bin(`${name}.snapshot.bin`);
    const doc = Document.load(snap, subject);
    assert.deepEqual(doc.toJSON(), expected[subject]?.json);
    assert.equal(doc.waiting, expected[subject]?.waiting);
    sameSnapshot(doc.save(), snap);
    assert.equal(hex(doc.version().encode()), hex(version(name)));
    const other = Document.load(snap);
    assert.deepEqual(other.toJSON(), expected[subject]?.json);
  });

  if (scenario.python_only) {
    test(`${name}: values received from Python are sent on exactly as Python sends them`, () => {
      const bob = new Document("bob", { clock: () => 1000 });
      bob.apply(bin(`${name}.changes.bin`));
      assert.equal(hex(bob.changes()), hex(bin(`${name}.bob_all.bin`)));
      assert.deepEqual(bob.toJSON(), expected["bob"]?.json);
      const again = Document.load(bob.save(), "bob");
      assert.equal(hex(again.changes()), hex(bin(`${name}.bob_all.bin`)));
    });
    continue;
  }

  test(`${name}: the same steps in TypeScript make the same bytes and views`, () => {
    const replay = new Replay(scenario.replicas);
    replay.run(scenario.steps);
    const doc = replay.docs.get(subject) as Document;
    assert.equal(hex(doc.changes()), hex(bin(`${name}.changes.bin`)));
    sameSnapshot(doc.save(), bin(`${name}.snapshot.bin`));
    assert.equal(hex(doc.version().encode()), hex(version(name)));
    for (const [label, data] of replay.captured) {
      assert.equal(hex(data), hex(bin(`${name}.${label}.bin`)), `capture ${label}`);
    }
    for (const [id, d] of replay.docs) {
      assert.deepEqual(d.toJSON(), expected[id]?.json, `view of ${id}`);
      assert.equal(d.waiting, expected[id]?.waiting, `waiting of ${id}`);
    }
  });
}

test("captured deltas apply on top of what their receiver held", () => {
  // causal: bob's delta waits in a fresh replica until alice's arrives, in either order.
  const a = bin("causal.a_first.bin");
  const b = bin("causal.b_after_a.bin");
  const expected = views("causal");
  for (const order of [[a, b], [b, a], [b, b, a, a]]) {
    const doc = new Document("zed");
    for (const data of order) doc.apply(data);
    assert.deepEqual(doc.toJSON(), expected["bob"]?.json);
    assert.equal(doc.waiting, 0);
  }
});
