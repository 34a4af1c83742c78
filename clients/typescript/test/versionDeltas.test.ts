/**
 * The `version-deltas` capability (docs/protocol.md, "Version deltas"): with it the engine
 * advertises it, takes the `serverVersion` of an Ack or Broadcast as what grew and merges it
 * into the version it knows; without it (a server that did not advertise it) each one
 * replaces what it knew, as before.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SyncEngine } from "../src/client/engine.js";
import type { Replica } from "../src/client/replicas.js";
import type { VersionMap } from "../src/client/version.js";
import { PRESENCE, VERSION_DELTAS, decodeFrame, type Event } from "../src/protocol/index.js";
import { CounterDoc, ME, connected, version } from "./support/engine.js";

const empty = new Uint8Array();

/** The server's version as the engine knows it for `docId` (its protected view). */
function known(engine: SyncEngine, docId: string): VersionMap | null {
  const inner = engine as unknown as {
    replicas: Map<string, Replica>;
    server(rep: Replica): VersionMap | null;
  };
  return inner.server(inner.replicas.get(docId)!);
}

function run(capabilities: string[]): [SyncEngine, VersionMap | null] {
  const engine = new SyncEngine(ME);
  const doc = new CounterDoc();
  engine.open("d", doc);
  doc.edit();
  const peer = connected(engine, capabilities);
  const [subscribe] = peer.read();
  assert.equal(subscribe?.type, "subscribe");
  peer.send({ type: "subscribed", docId: "d", changes: empty, serverVersion: version({ a: 5, b: 7 }) });
  const [push] = peer.read();
  assert.ok(push?.type === "push");
  peer.send({ type: "ack", docId: "d", batchId: push.batchId, serverVersion: version({ [ME]: 1 }) });
  peer.send({ type: "broadcast", docId: "d", changes: Uint8Array.of(1, 3), serverVersion: version({ other: 3 }) });
  peer.send({ type: "broadcast", docId: "d", changes: Uint8Array.of(1, 4), serverVersion: empty });
  return [engine, known(engine, "d")];
}

test("engine: the Hello advertises version deltas", () => {
  const engine = new SyncEngine(ME);
  engine.connectionMade(0);
  const [frame] = engine.dataToSend();
  const hello = decodeFrame(frame!) as Event;
  assert.ok(hello.type === "hello");
  assert.deepEqual(hello.capabilities, [PRESENCE, VERSION_DELTAS]);
});

test("engine: with version deltas, what grew is merged into the version it knows", () => {
  const [engine, server] = run([PRESENCE, VERSION_DELTAS]);
  assert.deepEqual(server, new Map([["a", 5], ["b", 7], [ME, 1], ["other", 3]]));
  assert.deepEqual(engine.unsynced(), []);
});

test("engine: from a server without version deltas, each version replaces the last", () => {
  const [, server] = run([PRESENCE]);
  assert.deepEqual(server, new Map());
});
