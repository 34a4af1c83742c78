/**
 * `node build/scripts/trace.js FIRST_SEED COUNT`: seeded random scenarios run on TypeScript
 * replicas (test/helpers/fromts.ts), with, after every step, a hash of each replica's
 * `save()` and `changes()` (for tests/typescript/test_ts_differential.py, which replays the
 * steps with the Python core and compares).
 */
import { createHash } from "node:crypto";
import { randomScenario } from "../test/helpers/fromts.js";
import { Replay } from "../test/helpers/replay.js";

const first = Number(process.argv[2] ?? 0);
const count = Number(process.argv[3] ?? 10);
const hash = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex").slice(0, 16);
const out: Record<string, unknown> = {};
for (let seed = first; seed < first + count; seed++) {
  const ids = seed % 2 ? ["tsa", "tsb", "tsc"] : ["p", "q"];
  const { scenario } = randomScenario(seed, ids, 30 + (seed % 120));
  const replay = new Replay(scenario.replicas);
  const trace: string[] = [];
  for (const step of scenario.steps) {
    replay.step(step);
    trace.push([...replay.docs.values()].map((d) => hash(d.save()) + hash(d.changes())).join(","));
  }
  out[String(seed)] = { scenario, trace };
}
process.stdout.write(JSON.stringify(out));
