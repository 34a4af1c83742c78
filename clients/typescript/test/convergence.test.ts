/**
 * Property: 2-5 TypeScript replicas making random operations of every kind, exchanging
 * change sets that are reordered, duplicated and lost (then one full exchange), converge to
 * the same JSON view and the same state, and every snapshot loads back to that state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Document } from "../src/index.js";
import { DELETED } from "../src/core/map.js";
import { Child } from "../src/core/child.js";
import { ckey } from "../src/core/ids.js";
import { scalarKey } from "../src/core/values.js";
import { steppingClock } from "./helpers/replay.js";

/** Everything a replica's snapshot holds, with client ids in place of indexes, sorted. */
export function canonicalState(doc: Document): unknown {
  const id = (c: number): string => doc._clients[c] as string;
  const val = (v: unknown): unknown => (v === DELETED ? "<deleted>" : v instanceof Child ? { child: v.kind, epoch: v.epoch && [id(v.epoch[0]), v.epoch[1]] } : v);
  const byKey = <T>(m: Map<string, T>, f: (v: T) => unknown): [string, unknown][] =>
    [...m].map(([k, v]): [string, unknown] => [canonKey(doc, k), f(v)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    version: doc.version().toJSON(),
    hlc: String(doc._hlc),
    fields: [...doc._fields].map(([n, [h, c, s, v]]) => [n, String(h), id(c), s, val(v)]).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    counters: byKey(doc._counters, (t) => t),
    sets: byKey(doc._sets, (st) => [...st.members].map(([k, [, tags]]) => [k, [...tags.values()].map(([c, s]) => `${id(c)}:${s}`).sort()]).sort()),
    lists: byKey(doc._lists, (st) => [...st.items].map(([, it]) => [it.key, it.clientId, String(it.hlc), it.writer, it.deleted, JSON.stringify(val(it.value))]).sort()),
    maps: byKey(doc._maps, (st) => [...st.entries].map(([k, [h, w, , s, v]]) => [k, String(h), w, s, JSON.stringify(val(v))]).sort()),
    pending: doc._pending.length,
  };
}

function canonKey(doc: Document, k: string): string {
  // Container keys embed client indexes: rewrite them as client ids.
  const cid = doc._cids.get(k);
  const walk = (c: unknown): unknown => {
    if (typeof c === "string") return c;
    const t = c as unknown[];
    if (t.length === 3) {
      const e = t[2] as [number, number] | null;
      return [walk(t[0]), t[1], e && [doc._clients[e[0]], e[1]]];
    }
    const item = t[1] as [number, number];
    return [walk(t[0]), [doc._clients[item[0]], item[1]]];
  };
  return cid === undefined ? ckey(k) : JSON.stringify(walk(cid));
}

const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -50, max: 50 }), fc.constantFrom(0.5, -2.25), fc.constantFrom("", "a", "b", "é🙂"));
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.constantFrom("k", "l", "é"), scalar, { maxKeys: 2 }));

export const command = fc.record({
  kind: fc.nat(25),
  r: fc.nat(10),
  a: fc.nat(40),
  b: fc.nat(40),
  v: value,
  s: scalar,
});
type Command = { kind: number; r: number; a: number; b: number; v: unknown; s: unknown };

interface Message {
  to: number;
  data: Uint8Array;
}

function edit(doc: Document, c: Command): void {
  const lists = [() => doc.getList("l"), () => doc.getMap("m").getList("ml"), () => doc.getList("kids")];
  const list = lists[c.a % lists.length] as () => ReturnType<Document["getList"]>;
  const texts = [() => doc.getText("t"), () => doc.getMap("m").getText("mt")];
  switch (c.kind % 17) {
    case 0: doc.set(["f", "g"][c.a % 2] as string, c.v); break;
    case 1: doc.delete(["f", "g"][c.a % 2] as string); break;
    case 2: doc.update({ f: c.v, u: c.b }); break;
    case 3: doc.getCounter("c").increment(c.b - 20); break;
    case 4: doc.getSet("s").add(c.s as never); break;
    case 5: doc.getSet("s").discard(c.s as never); break;
    case 6: { const l = list(); l.insert(c.b % (l.length + 1), c.v); break; }
    case 7: { const l = list(); if (l.length) l.move(c.a % l.length, c.b % l.length); break; }
    case 8: { const l = list(); if (l.length) l.delete(c.b % l.length); break; }
    case 9: doc.getMap("m").set(["x", "y", "ml"][c.b % 3] as string, c.v); break;
    case 10: doc.getMap("m").delete(["x", "y", "ml", "mc", "mm"][c.b % 5] as string); break;
    case 11: doc.getMap("m").getCounter("mc").increment(c.a); break;
    case 12: doc.getMap("m").getMap("mm").set(["p", "q"][c.b % 2] as string, c.v); break;
    case 14: {
      const t = (texts[c.a % 2] as () => ReturnType<Document["getText"]>)();
      t.insert(c.b % (t.length + 1), ["a", "bc", "🙂", "héllo"][c.b % 4] as string);
      break;
    }
    case 15: {
      const t = (texts[c.a % 2] as () => ReturnType<Document["getText"]>)();
      if (t.length) {
        const pos = c.b % t.length;
        t.delete(pos, 1 + (c.a % Math.min(3, t.length - pos)));
      }
      break;
    }
    case 16: { // edit inside an item of "kids" that is a container (a wrong guess is refused)
      const kids = doc.getList("kids");
      if (!kids.length) break;
      const i = c.a % kids.length;
      const kind = c.b % 5;
      if (kind === 0) kids.getMap(i).set(["k", "j"][c.b % 2] as string, c.v);
      else if (kind === 1) kids.getList(i).insert(0, c.v);
      else if (kind === 2) kids.getCounter(i).increment(c.a);
      else if (kind === 3) kids.getSet(i).add(c.s as never);
      else kids.getText(i).insert(0, "t");
      break;
    }
    default: {
      const kids = doc.getList("kids");
      const kind = c.b % 5;
      const i = c.a % (kids.length + 1);
      if (kind === 0) kids.insertMap(i).set("k", c.v);
      else if (kind === 1) kids.insertList(i).append(c.v);
      else if (kind === 2) kids.insertCounter(i).increment(c.b);
      else if (kind === 3) kids.insertSet(i).add(c.s as never);
      else kids.insertText(i).insert(0, JSON.stringify(c.v));
    }
  }
}

export function run(n: number, commands: Command[], sameClock: boolean): Document[] {
  const docs = Array.from({ length: n }, (_, i) => new Document(`r${i}`, { clock: steppingClock(1000, sameClock ? 1 : i + 1) }));
  const pool: Message[] = [];
  const known: (ReturnType<Document["version"]> | null)[] = docs.map(() => null);
  for (const c of commands) {
    const doc = docs[c.r % n] as Document;
    if (c.kind < 17) {
      try {
        edit(doc, c);
      } catch (exc) {
        // A name used as another kind on this replica (merged in from elsewhere): refused.
        if (!(exc instanceof Error) || exc.constructor.name !== "InvalidTypeError") throw exc;
      }
      continue;
    }
    const to = (c.r + 1 + (c.a % (n - 1))) % n;
    switch (c.kind) {
      case 17: case 18: // send what the sender thinks the receiver lacks (maybe stale)
        pool.push({ to, data: doc.changes(c.b % 3 === 0 ? null : known[to]) });
        known[to] = (docs[to] as Document).version();
        break;
      case 19: case 20: case 21: { // deliver one message; sometimes keep it (a duplicate)
        if (!pool.length) break;
        const i = c.a % pool.length;
        const m = pool[i] as Message;
        if (c.b % 4 !== 0) pool.splice(i, 1);
        (docs[m.to] as Document).apply(m.data);
        break;
      }
      case 22: if (pool.length) pool.splice(c.a % pool.length, 1); break; // lose one
      case 23: (docs[to] as Document).apply(doc.changes((docs[to] as Document).version())); break;
      case 25: { // forget spent dependencies: nothing shown changes
        const before = canonicalState(doc);
        doc.trimHistory();
        assert.deepEqual(canonicalState(doc), before);
        break;
      }
      default: doc.merge(docs[to] as Document);
    }
  }
  for (let round = 0; round < 2; round++) {
    for (const a of docs) for (const b of docs) if (a !== b) b.apply(a.changes(b.version()));
  }
  return docs;
}

test("replicas converge under reordering, duplication and loss", () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 5 }), fc.array(command, { maxLength: 200, size: "large" }), fc.boolean(), (n, commands, sameClock) => {
      const docs = run(n, commands, sameClock);
      const first = docs[0] as Document;
      const view = first.toJSON();
      const state = canonicalState(first);
      for (const doc of docs) {
        assert.equal(doc.waiting, 0);
        assert.deepEqual(doc.toJSON(), view);
        assert.deepEqual(canonicalState(doc), state);
        const loaded = Document.load(doc.save(), doc.clientId);
        assert.deepEqual(canonicalState(loaded), canonicalState(doc));
        assert.deepEqual(Buffer.from(loaded.save()), Buffer.from(doc.save()));
        assert.deepEqual(loaded.toJSON(), view);
      }
      const fresh = new Document("observer");
      fresh.apply(first.changes());
      assert.deepEqual(fresh.toJSON(), view);
    }),
    { numRuns: 200 },
  );
});

test("a set member's key keeps 1, true and \"1\" apart", () => {
  assert.notEqual(scalarKey(1), scalarKey(true));
  assert.notEqual(scalarKey(1), scalarKey("1"));
});
