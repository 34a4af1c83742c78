/**
 * Applying many changes at once whatever their order: each waits on what it lacks and is
 * looked at again once that is here (`remote.ts` `plan`; Python: `_remote._plan`,
 * tests/core/test_plan_order.py). The order changes apply in is Python's, step for step
 * (`plan_order.json`, written by tools/ts_vectors.py).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { changesProto, Document } from "../src/index.js";
import { PairHeap } from "../src/core/heap.js";
import { planApply } from "../src/core/remote.js";
import type { Change } from "../src/core/codec.js";
import { prng } from "./helpers/fromts.js";
import { steppingClock, VECTORS } from "./helpers/replay.js";

/** `links` writers, each editing after hearing the one before: a chain of dependencies
 * across clients. Returns the last writer and each one's change. */
function chain(links: number): [Document, Uint8Array[]] {
  let prev = new Document("w0");
  prev.getText("t").insert(0, "a");
  prev.set("k", 0);
  const parts = [prev.changes()];
  for (let i = 1; i < links; i++) {
    const doc = new Document(`w${i}`);
    doc.apply(prev.changes());
    const before = doc.version();
    doc.getText("t").insert(i % 3, "b");
    doc.set("k", i);
    parts.push(doc.changes(before));
    prev = doc;
  }
  return [prev, parts];
}

function shuffled<T>(items: T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

test("a long chain applies in one call in any order", () => {
  const [last, parts] = chain(150);
  for (const order of ["forward", "backward", "shuffled"]) {
    let items = parts;
    if (order === "backward") items = [...parts].reverse();
    else if (order === "shuffled") items = shuffled(parts, prng(5));
    const fresh = new Document("fresh");
    for (const part of items.slice(0, -1)) fresh.apply(part); // each waits (or applies) as it comes
    fresh.apply(items[items.length - 1] as Uint8Array);
    assert.equal(fresh.waiting, 0, order);
    assert.deepEqual(fresh.toJSON(), last.toJSON(), order);
    assert.ok(fresh.version().equals(last.version()), order);
  }
});

test("a catch-up written client by client applies whole", () => {
  const [last] = chain(150);
  const data = last.changes();
  // The changes come client by client, each depending on the one written before it.
  assert.ok(changesProto.decodeChangeSet(data).changes.length >= 150);
  const fresh = new Document("fresh");
  fresh.apply(data);
  assert.equal(fresh.waiting, 0);
  assert.deepEqual(fresh.toJSON(), last.toJSON());
});

test("the pair heap pops by key, then by index", () => {
  const heap = new PairHeap();
  const rand = prng(11);
  const pushed: [number, number][] = [];
  for (let i = 0; i < 500; i++) {
    const entry: [number, number] = [Math.floor(rand() * 20), Math.floor(rand() * 1000)];
    pushed.push(entry);
    heap.push(entry[0], entry[1]);
  }
  assert.equal(heap.topKey(), Math.min(...pushed.map((e) => e[0])));
  pushed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const popped: [number, number][] = [];
  while (heap.size) popped.push([...heap.pop()]);
  assert.deepEqual(popped, pushed);
  assert.equal(heap.topKey(), Infinity);
});

type Run = [client: string, start: number, end: number];

interface PlanCase {
  name: string;
  steps: { changes: string; ready: Run[]; waiting: Run[] }[];
  json: unknown;
}

const CASES = JSON.parse(readFileSync(join(VECTORS, "plan_order.json"), "utf8")) as PlanCase[];

for (const { name, steps, json } of CASES) {
  test(`${name}: the changes apply in Python's order, and the same ones wait`, () => {
    const doc = new Document("reader", { clock: steppingClock(1000, 1) });
    const runs = (chs: Change[]): Run[] => chs.map((ch) => [doc._clients[ch.client] as string, ch.start, ch.end]);
    steps.forEach((step, n) => {
      const data = new Uint8Array(Buffer.from(step.changes, "hex"));
      const [ready, waiting] = planApply(doc, data);
      assert.deepEqual(runs(ready), step.ready, `${name}, step ${n}: ready`);
      assert.deepEqual(runs(waiting), step.waiting, `${name}, step ${n}: waiting`);
      doc.apply(data);
      assert.deepEqual(runs(doc._pending), step.waiting, `${name}, step ${n}: held waiting`);
    });
    assert.deepEqual(doc.toJSON(), json);
  });
}
