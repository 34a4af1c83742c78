/**
 * Presence on the client: this replica's state in a document, and the others' (a port of
 * `synckit.client._presence`). {@link DocPresence} is the engine's record of one document's
 * presence (no I/O); {@link PresenceHandle} is what `client.presence(docId)` hands the app.
 * A state is a JSON object (who is here, a cursor, a selection); it is never stored.
 *
 * @module
 */
import { InvalidTypeError, InvalidValueError, LimitExceededError } from "../errors.js";
import type { ErrorEvent, PresenceEntry } from "../protocol/events.js";

/** A JSON object: a presence state. */
export type PresenceState = { readonly [key: string]: unknown };

/** Another connection's presence in a document (`principal`/`clientId` as authenticated). */
export interface PeerPresence {
  readonly key: string;
  readonly principal: string;
  readonly clientId: string;
  readonly state: PresenceState;
}

/** What changed in a document's presence: entries set or changed, and keys gone. */
export interface PresenceChange {
  readonly docId: string;
  readonly updated: readonly PeerPresence[];
  readonly removed: readonly string[];
}

/** `callback(change)`: the others' presence in a document changed. */
export type PresenceCallback = (change: PresenceChange) => void;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A presence state as the UTF-8 JSON bytes the protocol carries.
 *
 * @throws InvalidTypeError: not a plain object. InvalidValueError: not JSON-able.
 */
export function encodePresenceState(state: PresenceState): Uint8Array {
  if (state === null || typeof state !== "object" || Array.isArray(state)) {
    throw new InvalidTypeError("a presence state is a JSON object");
  }
  let text: string;
  try {
    text = JSON.stringify(state);
  } catch (exc) {
    throw new InvalidValueError(`presence state is not JSON: ${String(exc)}`);
  }
  return encoder.encode(text);
}

/** The engine's record of one document's presence. */
export class DocPresence {
  /** This replica's state, encoded, and as given (`null`: none set). */
  local: Uint8Array | null = null;
  value: PresenceState | null = null;
  /** The others, by key. */
  readonly others = new Map<string, PeerPresence>();
  readonly observers: PresenceCallback[] = [];
  /** When the state was last sent on this connection (ms; `null`: not sent on it). */
  sentAt: number | null = null;
  /** The server's last refusal of this state (PRESENCE_TOO_LARGE, BAD_PRESENCE). */
  error: ErrorEvent | null = null;

  constructor(readonly docId: string) {}

  /** Take a `Presence` frame's entries; tell the observers. */
  apply(entries: readonly PresenceEntry[]): void {
    const updated: PeerPresence[] = [];
    const removed: string[] = [];
    for (const entry of entries) {
      if (entry.removed) {
        if (this.others.delete(entry.key)) removed.push(entry.key);
        continue;
      }
      let state: unknown;
      try {
        state = JSON.parse(decoder.decode(entry.state));
      } catch {
        continue; // not from a SyncKit server: skip it
      }
      if (state === null || typeof state !== "object" || Array.isArray(state)) continue;
      const peer = { key: entry.key, principal: entry.principal, clientId: entry.clientId,
        state: state as PresenceState };
      this.others.set(entry.key, peer);
      updated.push(peer);
    }
    if (updated.length || removed.length) this.notify({ docId: this.docId, updated, removed });
  }

  /** The others are unknown from now (connection lost, resubscribing, closed). */
  reset(): void {
    const gone = [...this.others.keys()];
    this.others.clear();
    this.sentAt = null;
    if (gone.length) this.notify({ docId: this.docId, updated: [], removed: gone });
  }

  /** Tell every observer. */
  notify(change: PresenceChange): void {
    for (const callback of [...this.observers]) callback(change);
  }
}

/** What a {@link PresenceHandle} needs of the client. */
export interface PresenceHost {
  /** The record of open document `docId` (throws when it is not open). */
  docPresence(docId: string): DocPresence;
  /** Set (`null`: clear) this replica's state; sent when possible. */
  setPresence(docId: string, state: Uint8Array | null, value: PresenceState | null): void;
  /** The server's `max_presence_bytes` (0: unknown). */
  readonly maxPresenceBytes: number;
  /** Connected to a server that speaks presence. */
  readonly presenceAvailable: boolean;
}

/**
 * Presence in one document: set this client's state, read and observe the others'. The state
 * is sent while connected, again after every reconnect, and renewed by itself.
 */
export class PresenceHandle {
  constructor(private readonly host: PresenceHost, readonly docId: string) {}

  /**
   * Set this client's state (a JSON object); sent at once when connected.
   *
   * @throws InvalidTypeError, InvalidValueError: not a JSON object.
   * @throws LimitExceededError: larger than the server's `max_presence_bytes`.
   */
  set(state: PresenceState): void {
    const data = encodePresenceState(state);
    const limit = this.host.maxPresenceBytes;
    if (limit && data.length > limit) {
      throw new LimitExceededError(
        `presence state of ${data.length} bytes exceeds the server's limit of ${limit}`);
    }
    this.host.setPresence(this.docId, data, { ...state });
  }

  /** Remove this client's state (the others see it gone). */
  clear(): void {
    this.host.setPresence(this.docId, null, null);
  }

  /** This client's state as last set (`null`: none). */
  get state(): PresenceState | null {
    return this.host.docPresence(this.docId).value;
  }

  /** The other connections' presence now, by key (a copy; empty while offline). */
  get others(): Map<string, PeerPresence> {
    return new Map(this.host.docPresence(this.docId).others);
  }

  /** The server's last refusal of this client's state (`null`: none). */
  get error(): ErrorEvent | null {
    return this.host.docPresence(this.docId).error;
  }

  /** Connected to a server that speaks presence (otherwise states wait). */
  get available(): boolean {
    return this.host.presenceAvailable;
  }

  /** Call `callback(change)` whenever the others' presence changes; returns an unsubscribe. */
  observe(callback: PresenceCallback): () => void {
    const observers = this.host.docPresence(this.docId).observers;
    observers.push(callback);
    return () => {
      const i = observers.indexOf(callback);
      if (i >= 0) observers.splice(i, 1);
    };
  }
}
