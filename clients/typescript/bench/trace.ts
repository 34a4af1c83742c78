/**
 * SyncKit's TypeScript text side by side with Yjs, in one run: an editing trace
 * (josephg/editing-traces format, `[pos, ndel, ins]` patches) replayed into a SyncKit
 * `Document` text and into a `Y.Text`, each edit its own change / transaction, as an app
 * makes them; then the snapshot of each, loading it, and a 2-replica merge.
 *
 *     npm run bench                          # /work/shared/traces/automerge-paper.json.gz
 *     npm run bench -- PATH [--runs N]       # a trace file, or a folder holding automerge-paper
 *     SYNCKIT_TRACES=DIR npm run bench
 *
 * Every figure is the fastest of N runs (best-of-N), each on fresh state built outside the
 * timed region, after a full GC when Node runs with `--expose-gc` (as `npm run bench` does).
 * Correctness is loud: a final or loaded text that differs from `endContent`, or merged
 * replicas that differ, is printed and makes the process exit 1.
 */
import { readFileSync, statSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { arch, cpus, platform } from "node:os";
import * as Y from "yjs";
import { Document } from "../src/core/document.js";
import type { Text } from "../src/core/textHandle.js";

/** One patch: delete `ndel` code points at `pos`, then insert `ins` there. */
export type Patch = readonly [pos: number, ndel: number, ins: string];

/** A trace: patches in order and the text they must produce. */
export interface Trace {
  name: string;
  patches: Patch[];
  endContent: string;
}

/** Read an editing-traces file (gzipped JSON, or plain JSON if not gzipped). */
export function loadTrace(path: string): Trace {
  let raw: Uint8Array = readFileSync(path);
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
  const data = JSON.parse(new TextDecoder().decode(raw)) as {
    startContent?: string; endContent: string; txns: { patches: [number, number, string][] }[];
  };
  if (data.startContent) throw new Error(`${path}: traces must start from an empty text`);
  const patches: Patch[] = [];
  for (const txn of data.txns) for (const p of txn.patches) patches.push([p[0], p[1], p[2]]);
  return { name: path.split("/").pop() ?? path, patches, endContent: data.endContent };
}

/** A seeded trace of `n` ASCII edits (typing bursts, backspaces, jumps) for smoke tests. */
export function generateTrace(n: number, seed = 1): Trace {
  let x = seed >>> 0 || 1;
  const rand = (k: number): number => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % k;
  };
  let s = "";
  let cursor = 0;
  const patches: Patch[] = [];
  while (patches.length < n) {
    if (rand(10) === 0) cursor = rand(s.length + 1);
    if (s.length > 0 && rand(4) === 0) {
      if (cursor === 0) cursor = 1;
      patches.push([cursor - 1, 1, ""]);
      s = s.slice(0, cursor - 1) + s.slice(cursor);
      cursor -= 1;
    } else if (rand(20) === 0 && s.length > cursor) {
      const c = String.fromCharCode(97 + rand(26));
      patches.push([cursor, 1, c]);   // a replacement: delete then insert
      s = s.slice(0, cursor) + c + s.slice(cursor + 1);
      cursor += 1;
    } else {
      const c = String.fromCharCode(97 + rand(26));
      patches.push([cursor, 0, c]);
      s = s.slice(0, cursor) + c + s.slice(cursor);
      cursor += 1;
    }
  }
  return { name: `generated-${n}`, patches, endContent: s };
}

declare const gc: (() => void) | undefined;

function collect(): void {
  if (typeof gc === "function") gc();
}

/** Fastest of `runs` timings (ms) of `body`, each after `setup` (untimed) and a GC. */
function bestOf<S>(runs: number, setup: () => S, body: (s: S) => void): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const s = setup();
    collect();
    const t0 = performance.now();
    body(s);
    const t = performance.now() - t0;
    if (t < best) best = t;
  }
  return best;
}

/** What one library has to offer to the benchmark. */
interface Lib<D> {
  name: string;
  make(clientId: string): D;
  insert(d: D, pos: number, s: string): void;
  delete(d: D, pos: number, n: number): void;
  text(d: D): string;
  save(d: D): Uint8Array;
  load(data: Uint8Array): D;
  /** Everything b lacks from a, applied to b; returns the bytes sent. */
  sync(a: D, b: D): number;
}

/** A replica and its text's handle, taken once (as an app keeps it). */
interface SK { doc: Document; text: Text }
interface YD { doc: Y.Doc; text: Y.Text }

const synckit: Lib<SK> = {
  name: "SyncKit",
  make(id) {
    const doc = new Document(id);
    return { doc, text: doc.getText("t") };
  },
  insert: (d, pos, s) => d.text.insert(pos, s),
  delete: (d, pos, n) => d.text.delete(pos, n),
  text: (d) => d.text.toString(),
  save: (d) => d.doc.save(),
  load(data) {
    const doc = Document.load(data, "reader");
    return { doc, text: doc.getText("t") };
  },
  sync(a, b) {
    const delta = a.doc.changes(b.doc.version());
    b.doc.apply(delta);
    return delta.length;
  },
};

/** Yjs client ids are numbers; map the benchmark's names to fixed ones. */
const yClientIds: Record<string, number> = { a: 1, b: 2, bench: 3, reader: 4 };

const yjs: Lib<YD> = {
  name: "Yjs",
  make(id) {
    const doc = new Y.Doc();
    doc.clientID = yClientIds[id] ?? 5;
    return { doc, text: doc.getText("t") };
  },
  insert: (d, pos, s) => d.text.insert(pos, s),
  delete: (d, pos, n) => d.text.delete(pos, n),
  text: (d) => d.text.toString(),
  save: (d) => Y.encodeStateAsUpdate(d.doc),
  load(data) {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, data);
    return { doc, text: doc.getText("t") };
  },
  sync(a, b) {
    const delta = Y.encodeStateAsUpdate(a.doc, Y.encodeStateVector(b.doc));
    Y.applyUpdate(b.doc, delta);
    return delta.length;
  },
};

/** Replay a trace into `d`, one call (so one change / transaction) per insert or delete. */
function replay<D>(lib: Lib<D>, d: D, patches: readonly Patch[]): void {
  for (let i = 0; i < patches.length; i++) {
    const p = patches[i]!;
    if (p[1] > 0) lib.delete(d, p[0], p[1]);
    if (p[2]) lib.insert(d, p[0], p[2]);
  }
}

/** One library's figures; `null` where it failed. */
export interface Figures {
  usPerEdit: number | null;
  snapshotBytes: number | null;
  loadMs: number | null;
  loadReadMs: number | null;
  mergeMs: number | null;
  mergeBytes: number | null;
}

/** Options of a run. */
export interface RunOptions {
  runs: number;
  loadRuns: number;
  mergeRuns: number;
  /** Steps per replica in the merge. */
  mergeSteps: number;
}

/** Each side's script for the merge: `steps` random letters at random positions. */
function mergeScript(steps: number, seed: number): Patch[] {
  let x = seed;
  const rand = (k: number): number => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % k;
  };
  const out: Patch[] = [];
  for (let i = 0; i < steps; i++) out.push([rand(i + 1), 0, String.fromCharCode(97 + rand(26))]);
  return out;
}

function measure<D>(lib: Lib<D>, trace: Trace, opt: RunOptions, failures: string[]): Figures {
  const fig: Figures = { usPerEdit: null, snapshotBytes: null, loadMs: null, loadReadMs: null, mergeMs: null, mergeBytes: null };
  const fail = (what: string): void => { failures.push(`${lib.name}: ${what}`); };
  try {
    let last: D | null = null;
    const ms = bestOf(opt.runs, () => lib.make("bench"), (d) => { replay(lib, d, trace.patches); last = d; });
    const d = last as D | null;
    if (d === null || lib.text(d) !== trace.endContent) {
      fail("the replayed text differs from endContent");
    } else {
      fig.usPerEdit = (ms * 1000) / trace.patches.length;
      const snap = lib.save(d);
      fig.snapshotBytes = snap.length;
      // Checked untimed first; a timed load's result is dropped at once (keeping it alive
      // would grow the heap the next load runs in).
      const loaded = lib.load(snap);
      fig.loadMs = bestOf(opt.loadRuns, () => null, () => {
        if (lib.load(snap) === null) throw new Error("no document");
      });
      let read = "";
      fig.loadReadMs = bestOf(opt.loadRuns, () => null, () => { read = lib.text(lib.load(snap)); });
      if (lib.text(loaded) !== trace.endContent || read !== trace.endContent) {
        fail("the loaded snapshot's text differs from endContent");
        fig.loadMs = fig.loadReadMs = null;
      }
    }
  } catch (e) {
    fail(`replay/snapshot raised ${(e as Error).stack ?? String(e)}`);
  }
  try {
    const sa = mergeScript(opt.mergeSteps, 12345);
    const sb = mergeScript(opt.mergeSteps, 67890);
    let pair: [D, D] | null = null;
    let bytes = 0;
    fig.mergeMs = bestOf(opt.mergeRuns, () => {
      const a = lib.make("a");
      const b = lib.make("b");
      replay(lib, a, sa);
      replay(lib, b, sb);
      return [a, b] as [D, D];
    }, (p) => {
      bytes = lib.sync(p[0], p[1]);
      lib.sync(p[1], p[0]);
      pair = p;
    });
    fig.mergeBytes = bytes;
    const [a, b] = pair as unknown as [D, D];
    if (lib.text(a) !== lib.text(b) || [...lib.text(a)].length !== 2 * opt.mergeSteps) {
      fail("merged replicas differ");
      fig.mergeMs = fig.mergeBytes = null;
    }
  } catch (e) {
    fail(`merge raised ${(e as Error).stack ?? String(e)}`);
    fig.mergeMs = fig.mergeBytes = null;
  }
  return fig;
}

/** Run both libraries on `trace`; the figures and any failures. */
export function runBench(trace: Trace, opt: RunOptions): { synckit: Figures; yjs: Figures; failures: string[] } {
  const failures: string[] = [];
  const y = measure(yjs, trace, opt, failures);
  const s = measure(synckit, trace, opt, failures);
  return { synckit: s, yjs: y, failures };
}

function fmt(v: number | null, digits: number): string {
  if (v === null) return "n/a";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number | null, b: number | null): string {
  return a === null || b === null || b === 0 ? "n/a" : (a / b).toFixed(2);
}

/** The results as a markdown table. */
export function table(trace: Trace, r: { synckit: Figures; yjs: Figures }, opt: RunOptions): string {
  const s = r.synckit;
  const y = r.yjs;
  const n = trace.patches.length.toLocaleString("en-US");
  const rows: [string, number | null, number | null, number, string][] = [
    [`µs/edit (${n} edits, each its own change; best of ${opt.runs})`, s.usPerEdit, y.usPerEdit, 3, "at most Yjs's"],
    ["snapshot bytes (`save()` / `encodeStateAsUpdate`)", s.snapshotBytes, y.snapshotBytes, 0, ""],
    [`snapshot load, ms (best of ${opt.loadRuns})`, s.loadMs, y.loadMs, 2, ""],
    ["snapshot load + read the text, ms", s.loadReadMs, y.loadReadMs, 2, ""],
    [`2-replica merge, ms (${opt.mergeSteps} random inserts each side; best of ${opt.mergeRuns})`, s.mergeMs, y.mergeMs, 3, ""],
    ["merge bytes A->B", s.mergeBytes, y.mergeBytes, 0, ""],
  ];
  const lines = [
    "| figure | SyncKit | Yjs | SyncKit/Yjs | target | met |",
    "|---|---:|---:|---:|---|---|",
  ];
  for (const [label, a, b, digits, target] of rows) {
    const met = target ? (a !== null && b !== null ? (a <= b ? "yes" : "no") : "n/a") : "";
    lines.push(`| ${label} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${ratio(a, b)} | ${target} | ${met} |`);
  }
  return lines.join("\n");
}

/** Where the trace is: an argument (file or folder), $SYNCKIT_TRACES, or ../../../shared/traces. */
export function tracePath(arg: string | undefined, packageDir: string): string {
  const given = arg ?? process.env.SYNCKIT_TRACES ?? resolve(packageDir, "..", "..", "..", "shared", "traces");
  return statSync(given).isDirectory() ? join(given, "automerge-paper.json.gz") : given;
}

function yjsVersion(packageDir: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageDir, "node_modules", "yjs", "package.json"), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "?";
  }
}

function main(argv: string[]): number {
  const packageDir = resolve(import.meta.dirname, "..", "..");
  let arg: string | undefined;
  let quick = false;
  const opt: RunOptions = { runs: 5, loadRuns: 40, mergeRuns: 30, mergeSteps: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--runs") opt.runs = Number(argv[++i]);
    else if (a === "--quick") quick = true, Object.assign(opt, { runs: 1, loadRuns: 2, mergeRuns: 2, mergeSteps: 200 });
    else arg = a;
  }
  const path = tracePath(arg, packageDir);
  const trace = loadTrace(path);
  if (quick) {  // the first 20,000 edits only: a smoke run, not comparable
    trace.patches.splice(20_000);
    trace.endContent = replayString(trace.patches);
  }
  const r = runBench(trace, opt);
  const cpu = cpus()[0]?.model ?? "?";
  console.log(`# SyncKit TypeScript vs Yjs ${yjsVersion(packageDir)} — ${trace.name}`);
  console.log(`Node ${process.version}, ${platform()} ${arch()}, ${cpu} (${cpus().length} cores), ${new Date().toISOString()}` +
    (typeof gc === "function" ? "" : " — no --expose-gc: no GC before timed runs"));
  console.log();
  console.log(table(trace, r, opt));
  if (r.failures.length) {
    console.error("\nFAILURES:");
    for (const f of r.failures) console.error(`- ${f}`);
    return 1;
  }
  return 0;
}

/** The text `patches` produce (code points), by plain slicing. */
export function replayString(patches: readonly Patch[]): string {
  const s: string[] = [];
  for (const [pos, ndel, ins] of patches) s.splice(pos, ndel, ...ins);
  return s.join("");
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, "trace.js")) {
  process.exitCode = main(process.argv.slice(2));
}
