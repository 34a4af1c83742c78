/**
 * The browser bundle (`scripts/bundle.ts`, `dist/index.js`) is the same code as the Node
 * build, minified: every byte it writes must be the same as the Node build's (the golden
 * vectors, and a frame of every protocol event), and it must bundle no protobuf library.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import * as node from "../src/index.js";
import { bundleOptions } from "../scripts/bundle.js";
import { loadScenarios, VECTORS } from "./helpers/replay.js";
import { deflates, inflated } from "./helpers/snapshots.js";

const PACKAGE = resolve(import.meta.dirname, "..", "..");
let bundled: typeof node;
let inputs: string[] = [];

before(async () => {
  const result = await build({
    ...bundleOptions(PACKAGE),
    entryPoints: [resolve(PACKAGE, "src", "index.ts")],
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  inputs = Object.keys(result.metafile.inputs);
  const dir = mkdtempSync(join(tmpdir(), "synckit-bundle-"));
  try {
    const file = join(dir, "index.mjs");
    writeFileSync(file, result.outputFiles[0]!.contents);
    bundled = (await import(pathToFileURL(file).href)) as typeof node;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the bundle holds no protobuf library, and the generated codecs", () => {
  assert.deepEqual(inputs.filter((i) => i.includes("@bufbuild")), []);
  assert.ok(inputs.some((i) => i.endsWith("src/gen/synckit/v1/changes.ts")), inputs.join(", "));
  assert.ok(inputs.some((i) => i.endsWith("src/core/wire.ts")));
});

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

test("golden vectors through the bundle: the same views, changes and snapshots", () => {
  const expected = JSON.parse(readFileSync(join(VECTORS, "expected.json"), "utf8")) as
    Record<string, { replicas: Record<string, { json: unknown }> }>;
  let checked = 0;
  for (const [name, scenario] of Object.entries(loadScenarios())) {
    const subject = Object.keys(scenario.replicas)[0]!;
    const changes = new Uint8Array(readFileSync(join(VECTORS, `${name}.changes.bin`)));
    const snap = new Uint8Array(readFileSync(join(VECTORS, `${name}.snapshot.bin`)));
    const doc = new bundled.Document("reader");
    doc.apply(changes);
    assert.deepEqual(doc.toJSON(), expected[name]?.replicas[subject]?.json, name);
    const same = new node.Document("reader");
    same.apply(changes);
    assert.equal(hex(doc.changes()), hex(same.changes()), `${name}: changes`);
    const loaded = bundled.Document.load(snap, subject);
    const saved = loaded.save();
    if (deflates(snap)) assert.equal(inflated(saved), inflated(snap), name);
    else assert.equal(hex(saved), hex(snap), `${name}: snapshot`);
    assert.equal(hex(loaded.version().encode()), hex(node.Document.load(snap, subject).version().encode()));
    checked += 1;
  }
  assert.ok(checked >= 10, `${checked} scenarios`);
});

test("a frame of every protocol event: the same bytes, read back alike", () => {
  const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);
  const events: node.Event[] = [
    node.hello("ts-1", "tok", ["presence", "delete"]),
    node.welcome({ capabilities: ["presence"], maxFrameBytes: 1 << 20, tokenExpiresMs: 5000, principal: "ada",
      maxPresenceBytes: 512, presenceTimeoutMs: 30_000 }),
    { type: "subscribe", docId: "d", version: b(10, 2, 97, 98) },
    { type: "subscribed", docId: "d", changes: b(1, 2, 3), serverVersion: b(4, 5) },
    { type: "push", docId: "d", batchId: 7, changes: b(9, 9) },
    { type: "ack", docId: "d", batchId: 7, serverVersion: b(1) },
    { type: "broadcast", docId: "d", changes: b(2), serverVersion: b(3) },
    { type: "unsubscribe", docId: "d" },
    { type: "presenceSet", docId: "d", state: b(123, 125) },
    { type: "presence", docId: "d", entries: [
      { key: "k1", principal: "ada", clientId: "c1", state: b(1), removed: false },
      { key: "k2", principal: "bob", clientId: "c2", state: b(), removed: true },
    ] },
    node.deleteDoc("d", 3),
    { type: "docDeleted", docId: "d", requestId: 3 },
    { type: "ping", nonce: 41 },
    { type: "pong", nonce: 41 },
    node.errorEvent(node.ErrorCode.PERMISSION_DENIED, "read only", { docId: "d", batchId: 2, retryAfterMs: 100 }),
  ];
  for (const [i, event] of events.entries()) {
    const mine = bundled.encodeFrame(event, i + 1);
    assert.equal(hex(mine), hex(node.encodeFrame(event, i + 1)), event.type);
    assert.deepEqual(bundled.decodeFrame(mine), node.decodeFrame(mine), event.type);
  }
});
