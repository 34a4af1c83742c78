/**
 * Replays the scenarios of `tools/ts_vectors.py` (kept as data in `vectors/scenarios.json`)
 * on TypeScript documents, step for step as the Python `Replay` does.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Document, VersionVector } from "../../src/index.js";

/** Where the golden vectors are. */
export const VECTORS = resolve(import.meta.dirname, "..", "..", "..", "test", "vectors");

/** One step: see tools/ts_vectors.py. */
export type Step = unknown[];
/** A scenario: replica ids with their clocks (`[start, step]`), and the steps. */
export interface Scenario {
  replicas: Record<string, [number, number]>;
  steps: Step[];
  /** Steps only the Python core replays (values JavaScript cannot hold as Python does). */
  python_only?: boolean;
}

/** The scenarios the Python side wrote. */
export function loadScenarios(dir = VECTORS): Record<string, Scenario> {
  return JSON.parse(readFileSync(join(dir, "scenarios.json"), "utf8")) as Record<string, Scenario>;
}

/** A clock reading `start + step * n` at its `n`-th call. */
export function steppingClock(start: number, step: number): () => number {
  let calls = 0;
  return () => start + step * calls++;
}

const cap = (s: string): string => s[0]?.toUpperCase() + s.slice(1);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function handle(doc: Document, path: unknown[]): Any {
  let h: Any = (doc as Any)[`get${cap(path[0] as string)}`](path[1]);
  for (let i = 2; i < path.length; i += 2) h = h[`get${cap(path[i] as string)}`](path[i + 1]);
  return h;
}

/** Runs the steps of one scenario on TypeScript documents. */
export class Replay {
  /** The replicas by id. */
  readonly docs = new Map<string, Document>();
  /** The change sets `capture` steps made, by label. */
  readonly captured = new Map<string, Uint8Array>();
  /** The versions `mark` steps remembered, by label. */
  readonly marks = new Map<string, VersionVector>();

  /** @param replicas - replica ids with their clocks. */
  constructor(replicas: Record<string, [number, number]>) {
    for (const [id, [start, step]] of Object.entries(replicas)) {
      const clock = steppingClock(start, step);
      this.clocks.set(id, clock);
      this.docs.set(id, new Document(id, { clock }));
    }
  }

  /** Each replica's clock. */
  readonly clocks = new Map<string, () => number>();

  private doc(id: unknown): Document {
    return this.docs.get(id as string) as Document;
  }

  /** Run every step. */
  run(steps: Step[]): void {
    for (const step of steps) this.step(step);
  }

  /** Run one step. */
  step(step: Step): void {
    const op = step[0] as string;
    if (op === "capture") {
      const since = step[3] === null ? null : this.doc(step[3]).version();
      this.captured.set(step[1] as string, this.doc(step[2]).changes(since));
      return;
    }
    if (op === "mark") {
      this.marks.set(step[1] as string, this.doc(step[2]).version());
      return;
    }
    if (op === "range") {
      const mark = (m: unknown): VersionVector | null => (m === null ? null : (this.marks.get(m as string) as VersionVector));
      this.captured.set(step[1] as string, this.doc(step[2]).changes(mark(step[3]), mark(step[4])));
      return;
    }
    if (op === "deliver") {
      this.doc(step[2]).apply(this.captured.get(step[1] as string) as Uint8Array);
      return;
    }
    if (op === "sync") {
      const dst = this.doc(step[2]);
      dst.apply(this.doc(step[1]).changes(dst.version()));
      return;
    }
    if (op === "reload") {
      const id = step[1] as string;
      this.docs.set(id, Document.load(this.doc(id).save(), id, { clock: this.clocks.get(id) as () => number }));
      return;
    }
    if (op === "trim") {
      this.doc(step[1]).trimHistory();
      return;
    }
    if (op === "syncall") {
      for (let k = 0; k < 2; k++) {
        for (const a of this.docs.values()) {
          for (const b of this.docs.values()) if (a !== b) b.apply(a.changes(b.version()));
        }
      }
      return;
    }
    const doc = this.doc(step[1]);
    const args = step.slice(2);
    if (op === "set") doc.set(args[0] as string, args[1]);
    else if (op === "delete") doc.delete(args[0] as string);
    else if (op === "update") doc.update(args[0] as Record<string, unknown>);
    else {
      const h = handle(doc, args[0] as unknown[]);
      const rest = args.slice(1);
      switch (op) {
        case "inc": h.increment(rest[0]); break;
        case "add": h.add(rest[0]); break;
        case "discard": h.discard(rest[0]); break;
        case "insert": h.insert(rest[0], rest[1]); break;
        case "append": h.append(rest[0]); break;
        case "move": h.move(rest[0], rest[1]); break;
        case "ldel": h.delete(rest[0]); break;
        case "tins": h.insert(rest[0], rest[1]); break;
        case "tdel": h.delete(rest[0], rest[1]); break;
        case "insert_child": h[`insert${cap(rest[1] as string)}`](rest[0]); break;
        case "mset": h.set(rest[0], rest[1]); break;
        case "mdel": h.delete(rest[0]); break;
        case "mget": h[`get${cap(rest[1] as string)}`](rest[0]); break;
        default: throw new Error(`unknown step ${JSON.stringify(step)}`);
      }
    }
  }
}
