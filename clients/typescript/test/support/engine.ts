/**
 * Test support for engine unit tests: a document double and a fake server that drives a
 * {@link SyncEngine} frame by frame.
 */
import assert from "node:assert/strict";
import type { SyncedDocument } from "../../src/client/document.js";
import type { SyncEngine } from "../../src/client/engine.js";
import { decodeVersion, encodeVersion, mergeVersions, seqOf } from "../../src/client/version.js";
import { PRESENCE, decodeFrame, encodeFrame, welcome, type Event } from "../../src/protocol/index.js";

/** The actor id engines under test write under. */
export const ME = "me~1";

/** A document double: `seq` own operations; changes are [first, last] of the own seqs sent. */
export class CounterDoc implements SyncedDocument {
  seq = 0;
  readonly applied: Uint8Array[] = [];
  private readonly others = new Map<string, number>();
  private listeners: (() => void)[] = [];

  constructor(readonly actor = ME) {}

  version(): Uint8Array {
    return encodeVersion(mergeVersions(this.others, new Map([[this.actor, this.seq]])));
  }

  changes(since?: Uint8Array): Uint8Array {
    const from = since === undefined ? 0 : seqOf(decodeVersion(since), this.actor);
    return Uint8Array.of(from + 1, this.seq);
  }

  apply(changes: Uint8Array): void {
    this.applied.push(changes);
    if (changes.length === 2) this.others.set("other", changes[1]!);
  }

  save(): Uint8Array {
    return Uint8Array.of(0xff, this.seq);
  }

  onLocalChange(cb: () => void): () => void {
    this.listeners.push(cb);
    return () => { this.listeners = this.listeners.filter((l) => l !== cb); };
  }

  /** One local edit. */
  edit(): void {
    this.seq += 1;
    for (const l of [...this.listeners]) l();
  }
}

/** Drives an engine as a server would, frame by frame. */
export class Peer {
  seq = 0;
  constructor(readonly engine: SyncEngine) {}

  /** Deliver one server event; the events the engine read. */
  send(event: Event, now = 0): Event[] {
    this.seq += 1;
    return this.engine.receive(encodeFrame(event, this.seq), now);
  }

  /** The frames the engine queued, decoded. */
  read(): Event[] {
    return this.engine.dataToSend().map((f) => decodeFrame(f) as Event);
  }
}

/** An encoded version vector. */
export function version(entries: Record<string, number>): Uint8Array {
  return encodeVersion(new Map(Object.entries(entries)));
}

/** Connect `engine` to a server advertising `capabilities`; the Hello is read. */
export function connected(engine: SyncEngine, capabilities: string[] = [PRESENCE]): Peer {
  engine.connectionMade(0);
  const peer = new Peer(engine);
  const [hello] = peer.read();
  assert.ok(hello?.type === "hello" && hello.clientId === engine.actorId);
  peer.send(welcome({ maxFrameBytes: 1 << 20, capabilities, presenceTimeoutMs: 30_000 }));
  return peer;
}
