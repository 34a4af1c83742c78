/**
 * Smoke tests of the benchmark code (bench/trace.ts) and the size script (scripts/size.ts),
 * so neither rots: the benchmark runs on a short generated trace (the real traces are not in
 * the repository), and the size of the minified + gzipped bundle is printed into the log.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { generateTrace, loadTrace, replayString, runBench, table, tracePath } from "../bench/trace.js";
import { measureSize, sizeTable } from "../scripts/size.js";

test("the benchmark replays a generated trace into SyncKit and Yjs, checked against endContent", () => {
  const trace = generateTrace(3000, 7);
  assert.equal(replayString(trace.patches), trace.endContent);
  assert.ok(trace.endContent.length > 100);
  const opt = { runs: 1, loadRuns: 1, mergeRuns: 1, mergeSteps: 50 };
  const r = runBench(trace, opt);
  assert.deepEqual(r.failures, []);
  for (const f of [r.synckit, r.yjs]) {
    for (const v of Object.values(f)) assert.ok(typeof v === "number" && v >= 0);
  }
  const md = table(trace, r, opt);
  assert.match(md, /\| µs\/edit/);
  assert.doesNotMatch(md, /n\/a/);
});

test("the benchmark fails loudly when a library's text differs from endContent", () => {
  const trace = generateTrace(200, 3);
  trace.endContent += "x";
  const r = runBench(trace, { runs: 1, loadRuns: 1, mergeRuns: 1, mergeSteps: 10 });
  assert.equal(r.failures.length, 2);
  assert.equal(r.synckit.usPerEdit, null);
  assert.equal(r.yjs.usPerEdit, null);
});

test("the benchmark reads editing-traces files (gzipped JSON) from a file or a folder", () => {
  const dir = mkdtempSync(join(tmpdir(), "synckit-trace-"));
  try {
    const data = { startContent: "", endContent: "hxllo", txns: [{ patches: [[0, 0, "hello"]] }, { patches: [[1, 1, "x"]] }] };
    writeFileSync(join(dir, "automerge-paper.json.gz"), gzipSync(JSON.stringify(data)));
    const path = tracePath(dir, "/nowhere");
    const trace = loadTrace(path);
    assert.deepEqual(trace.patches, [[0, 0, "hello"], [1, 1, "x"]]);
    assert.equal(replayString(trace.patches), "hxllo");
    assert.equal(tracePath(path, "/nowhere"), path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("size of the client: src/index.ts bundled, minified, gzip -9", async (t) => {
  const packageDir = resolve(import.meta.dirname, "..", "..");
  const report = await measureSize(packageDir);
  t.diagnostic(`client bundle: ${report.minified} bytes minified, ${report.gzipped} bytes minified + gzip -9`);
  console.log(sizeTable(report));
  assert.ok(report.gzipped > 0 && report.gzipped < report.minified);
  assert.equal(report.modules.reduce((s, m) => s + m.minified, 0) <= report.minified, true);
  assert.ok(report.modules.some((m) => m.module === "src/core/text"));
});
