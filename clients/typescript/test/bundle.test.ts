/**
 * The browser bundle (`scripts/bundle.ts`, `dist/index.js`) revives the generated files'
 * descriptors from JSON decoded at build time instead of decoding them at load time: its
 * schemas must be the generated files' own, and every byte it writes the same as the Node
 * build's (the golden vectors, and a frame of every protocol event).
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import type { DescEnum, DescMessage } from "@bufbuild/protobuf";
import * as node from "../src/index.js";
import { bundleOptions, decodeEmbedded } from "../scripts/bundle.js";
import { fileFromJson } from "../src/descriptors.js";
import { loadScenarios, VECTORS } from "./helpers/replay.js";
import { deflates, inflated } from "./helpers/snapshots.js";

const PACKAGE = resolve(import.meta.dirname, "..", "..");
let bundled: typeof node;

before(async () => {
  const result = await build({
    ...bundleOptions(PACKAGE),
    entryPoints: [resolve(PACKAGE, "src", "index.ts")],
    write: false,
    logLevel: "silent",
  });
  const dir = mkdtempSync(join(tmpdir(), "synckit-bundle-"));
  try {
    const file = join(dir, "index.mjs");
    writeFileSync(file, result.outputFiles[0]!.contents);
    bundled = (await import(pathToFileURL(file).href)) as typeof node;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Everything about a message schema that reading and writing bytes depends on. */
function summary(desc: DescMessage): unknown {
  return {
    typeName: desc.typeName,
    file: desc.file.proto.name,
    dependencies: desc.file.dependencies.map((d) => d.proto.name),
    oneofs: desc.oneofs.map((o) => [o.name, o.localName, o.fields.map((f) => f.number)]),
    fields: desc.fields.map((field) => {
      // The kinds differ in which of these they have; each is compared where present.
      const f = field as unknown as Record<string, unknown> & { getDefaultValue?: () => unknown };
      return {
        name: field.name, number: field.number, localName: field.localName, jsonName: field.jsonName,
        kind: field.fieldKind, scalar: f["scalar"], listKind: f["listKind"], mapKey: f["mapKey"],
        packed: f["packed"], presence: f["presence"], oneof: field.oneof?.name ?? null,
        message: field.message?.typeName ?? null, enum: field.enum?.typeName ?? null,
        longAsString: f["longAsString"], delimited: f["delimitedEncoding"],
        defaultValue: f.getDefaultValue?.(),
      };
    }),
  };
}

function enumSummary(desc: DescEnum): unknown {
  return { typeName: desc.typeName, open: desc.open, values: desc.values.map((v) => [v.name, v.number, v.localName]) };
}

/** The schemas and enums a generated module exports, by export name. */
function schemas(module: object): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(module)) {
    const desc = value as { kind?: string };
    if (desc.kind === "message") out.set(name, summary(value as DescMessage));
    else if (desc.kind === "enum") out.set(name, enumSummary(value as DescEnum));
    else if (desc.kind === "file") out.set(name, (value as { proto: { name: string } }).proto.name);
  }
  return out;
}

test("the bundle's schemas are the generated files' own", () => {
  for (const ns of ["changesProto", "protocolProto"] as const) {
    const mine = schemas(bundled[ns]);
    const theirs = schemas(node[ns]);
    assert.ok(theirs.size >= 8, `${ns} exports its schemas (${theirs.size})`);
    assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort());
    for (const [name, s] of theirs) assert.deepEqual(mine.get(name), s, `${ns}.${name}`);
  }
});

test("a descriptor revived from JSON registers as the decoded one does", () => {
  const source = readFileSync(resolve(PACKAGE, "src", "gen", "synckit", "v1", "changes_pb.ts"), "utf8");
  const b64 = /fileDesc\("([^"]+)"/.exec(source)![1]!;
  const file = fileFromJson(decodeEmbedded(b64));
  const generated = node.changesProto.file_synckit_v1_changes;
  assert.deepEqual(file.messages.map((m) => summary(m)), generated.messages.map((m) => summary(m)));
  assert.deepEqual(file.enums.map((e) => enumSummary(e)), generated.enums.map((e) => enumSummary(e)));
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
