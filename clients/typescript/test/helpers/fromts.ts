/**
 * The vectors the TypeScript core writes for the Python side (`test/vectors/from-ts/`):
 * scenarios whose steps a seeded generator picks while running them on TypeScript
 * replicas, in the layout of tools/ts_vectors.py, so that tests/typescript/test_ts_vectors.py
 * applies, loads and replays them with the Python core.
 */
import { join } from "node:path";
import type { Document } from "../../src/index.js";
import { Replay, VECTORS, type Scenario, type Step } from "./replay.js";

/** Where the TypeScript-written vectors go. */
export const FROM_TS = join(VECTORS, "from-ts");

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS = [null, true, false, 0, 42, -1, 2.5, -0.125, "", "s", "ü🙂"];

/** Picks random valid steps by looking at the replicas' state. */
export class StepPicker {
  /** @param rand - random numbers in [0, 1). */
  constructor(private readonly rand: () => number) {}

  /** A random integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  /** A random element. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }

  /** A random JSON value. */
  value(depth = 0): unknown {
    const r = this.rand();
    if (r < 0.6 || depth > 1) return this.pick(SCALARS);
    if (r < 0.8) return [this.value(depth + 1), this.value(depth + 1)];
    return { k: this.value(depth + 1), [`x${this.int(3)}`]: this.value(depth + 1) };
  }

  /** A random edit step by replica `id` on `doc`. */
  edit(id: string, doc: Document): Step {
    const r = this.int(18);
    const listLen = (path: unknown[]): number => {
      try {
        const json = path.length === 2 ? doc.toJSON()[path[1] as string] : (doc.getMap("m").toJSON()[path[3] as string]);
        return Array.isArray(json) ? json.length : 0;
      } catch {
        return 0;
      }
    };
    const textLen = (path: unknown[]): number => {
      try {
        const t = path.length === 2 ? doc.toJSON()[path[1] as string] : doc.getMap("m").toJSON()[path[3] as string];
        return typeof t === "string" ? Array.from(t).length : 0;
      } catch {
        return 0;
      }
    };
    const lists: unknown[][] = [["list", "l"], ["list", "l2"], ["map", "m", "list", "ml"]];
    switch (r) {
      case 0: return ["set", id, this.pick(["f", "g", "h"]), this.value()];
      case 1: return ["delete", id, this.pick(["f", "g"])];
      case 2: return ["update", id, { f: this.value(), u: this.int(100) }];
      case 3: return ["inc", id, this.pick([["counter", "c"], ["map", "m", "counter", "mc"]]), this.int(21) - 10];
      case 4: return ["add", id, this.pick([["set", "s"], ["map", "m", "set", "ms"]]), this.pick(SCALARS)];
      case 5: return ["discard", id, ["set", "s"], this.pick(SCALARS)];
      case 6: case 7: {
        const path = this.pick(lists);
        return ["insert", id, path, this.int(listLen(path) + 1), this.value()];
      }
      case 8: return ["append", id, this.pick(lists), this.int(1000)];
      case 9: {
        const path = this.pick(lists);
        const n = listLen(path);
        return n ? ["move", id, path, this.int(n), this.int(n)] : ["append", id, path, "m"];
      }
      case 10: {
        const path = this.pick(lists);
        const n = listLen(path);
        return n ? ["ldel", id, path, this.int(n)] : ["append", id, path, "d"];
      }
      case 11: return ["mset", id, ["map", "m"], this.pick(["a", "b", "ml"]), this.value()];
      case 12: return ["mdel", id, ["map", "m"], this.pick(["a", "b", "ml", "mc", "ms"])];
      case 14: case 15: {
        const path = this.pick([["text", "t"], ["map", "m", "text", "mt"]]);
        const len = textLen(path);
        return ["tins", id, path, this.int(len + 1), this.pick(["a", "bc", "héllo ", "🙂", "xyz"])];
      }
      case 16: {
        const path = this.pick([["text", "t"], ["map", "m", "text", "mt"]]);
        const len = textLen(path);
        if (!len) return ["tins", id, path, 0, "start"];
        const pos = this.int(len);
        return ["tdel", id, path, pos, 1 + this.int(Math.min(3, len - pos))];
      }
      case 17: {
        const n = listLen(["list", "l2"]);
        if (!n) return ["append", id, ["list", "l2"], 0];
        const kind = this.pick(["map", "list", "counter", "set", "text"]);
        const path = ["list", "l2", kind, this.int(n)];
        if (kind === "map") return ["mset", id, path, this.pick(["k", "j"]), this.value()];
        if (kind === "list") return ["insert", id, path, 0, this.value()];
        if (kind === "counter") return ["inc", id, path, this.int(9) - 4];
        if (kind === "set") return ["add", id, path, this.pick(SCALARS)];
        return ["tins", id, path, 0, "t"];
      }
      default: {
        const n = listLen(["list", "l2"]);
        return ["insert_child", id, ["list", "l2"], this.int(n + 1), this.pick(["map", "list", "counter", "set", "text"])];
      }
    }
  }
}

/** Run a random scenario: edits on random replicas, and now and then an exchange. */
export function randomScenario(seed: number, ids: string[], n: number): { scenario: Scenario; replay: Replay } {
  const picker = new StepPicker(prng(seed));
  const replicas: Record<string, [number, number]> = {};
  ids.forEach((id, i) => { replicas[id] = [1000 + 10 * i, 1 + i]; });
  const replay = new Replay(replicas);
  const steps: Step[] = [];
  const run = (step: Step): void => {
    try {
      replay.step(step);
      steps.push(step);
    } catch {
      // A step the state refuses (a name of another kind, say): left out.
    }
  };
  const labels: string[] = [];
  for (let k = 0; k < n; k++) {
    const r = picker.int(12);
    const a = picker.pick(ids);
    const b = picker.pick(ids.filter((x) => x !== a));
    if (r < 8) {
      run(picker.edit(a, replay.docs.get(a) as Document));
    } else if (r < 10) {
      run(["sync", a, b]);
    } else if (r < 11) {
      // A change set kept for later: delivered out of order, twice, or never.
      const label = `m${labels.length}`;
      labels.push(label);
      run(["capture", label, a, picker.int(3) ? b : null]);
    } else if (labels.length && picker.int(4)) {
      run(["deliver", picker.pick(labels), b]);
    } else {
      run(["reload", a]);
    }
  }
  run(["capture", "delta", ids[0], ids[1]]);
  run(["syncall"]);
  return { scenario: { replicas, steps }, replay };
}

/** What `expected.json` says of a scenario: the version (hex) and every replica's view. */
function expect(subject: Document, replay: Replay): unknown {
  const replicas: Record<string, unknown> = {};
  for (const [id, doc] of replay.docs) replicas[id] = { json: doc.toJSON(), waiting: doc.waiting };
  return { version: Buffer.from(subject.version().encode()).toString("hex"), replicas };
}

/** Every from-ts vector file's name and content. */
export function generateFromTs(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const all: Record<string, Scenario> = {};
  const expected: Record<string, unknown> = {};
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);
  const runs = [
    ["random_two", 11, ["tsa", "tsb"], 80],
    ["random_three", 23, ["tsa", "tsb", "tsc"], 120],
    ["random_unsynced", 5, ["tsb", "tsa", "tsc"], 60],
  ] as const;
  for (const [name, seed, ids, n] of runs) {
    const { scenario, replay } = randomScenario(seed, [...ids], n);
    all[name] = scenario;
    const subject = replay.docs.get(ids[0]) as Document;
    files.set(`${name}.changes.bin`, subject.changes());
    files.set(`${name}.snapshot.bin`, subject.save());
    files.set(`${name}.delta.bin`, replay.captured.get("delta") as Uint8Array);
    expected[name] = expect(subject, replay);
  }
  {
    // A long text, saved DEFLATE-compressed.
    const replicas: Record<string, [number, number]> = { tsa: [1000, 1], tsb: [2000, 1] };
    const replay = new Replay(replicas);
    const steps: Step[] = [];
    const picker = new StepPicker(prng(3));
    let n = 0;
    for (let k = 0; k < 80; k++) {
      const word = picker.pick(["lorem ", "ipsum ", "dolor ", "sit ", "amet ", "ünïcode ", "🙂 "]);
      steps.push(["tins", "tsa", ["text", "long"], picker.int(n + 1), word]);
      n += Array.from(word).length;
    }
    steps.push(["tdel", "tsa", ["text", "long"], 3, 20], ["capture", "delta", "tsa", "tsb"], ["sync", "tsa", "tsb"]);
    steps.push(["tins", "tsb", ["text", "long"], 0, "Title: "], ["sync", "tsb", "tsa"]);
    replay.run(steps);
    all["long_text"] = { replicas, steps };
    const subject = replay.docs.get("tsa") as Document;
    files.set("long_text.changes.bin", subject.changes());
    files.set("long_text.snapshot.bin", subject.save());
    files.set("long_text.delta.bin", replay.captured.get("delta") as Uint8Array);
    expected["long_text"] = expect(subject, replay);
  }
  files.set("scenarios.json", text(JSON.stringify(all, null, 1) + "\n"));
  files.set("expected.json", text(JSON.stringify(expected, null, 1) + "\n"));
  return files;
}
