/**
 * The client's WebSocket logic: one protocol session at a time over the open documents (a
 * port of `synckit.client._session_sync`, without I/O):
 *
 * ```ts
 * engine.connectionMade(now);       // a transport is up: queues Hello
 * engine.receive(frame, now);       // a frame arrived
 * engine.flush();                   // push local edits (after any edit)
 * engine.dataToSend();              // write these to the transport
 * engine.tick(now);                 // now and then: false -> drop the transport
 * engine.connectionLost();          // the transport is gone
 * ```
 *
 * On each connection the server says what it holds (`Subscribed`) and the engine pushes exactly
 * what it lacks, one push per document in flight; edits made meanwhile go in the next one.
 * Times (`now`) are milliseconds on any fixed origin.
 *
 * @module
 */
import { LocalProtocolError, RemoteProtocolError } from "../errors.js";
import {
  DELETE, ErrorCode, PRESENCE, PRESENCE_CODES, VERSION_DELTAS, deleteDoc, errorEvent, hello,
  type ErrorEvent, type Event,
} from "../protocol/events.js";
import { ClientSession, DocState } from "../protocol/session.js";
import { State } from "../protocol/state.js";
import { DocPresence, type PresenceState } from "./presence.js";
import { ReplicaSet, isTerminal, type Replica } from "./replicas.js";
import { decodeVersion, mergeVersions, seqOf, withEntry, type VersionMap } from "./version.js";

/** What the client's Hello advertises: presence, and the server's version told as what grew. */
const CAPABILITIES: readonly string[] = [PRESENCE, VERSION_DELTAS];

/** Ms before subscribing again after a retryable refusal of a subscription. */
export const RESUBSCRIBE_MS = 1000;

/** A {@link ReplicaSet} synced over a protocol session. */
export class SessionSync extends ReplicaSet {
  private pingDue = false;
  private nonce = 0;
  private welcomed = false;
  private renewAtMs = 0;
  private readonly waiting = new Map<string, number>();
  /** Push batch id -> our own last seq it carried, and the own seqs it spans (one refused as
   * too many operations goes again in parts of fewer). */
  private readonly batchMine = new Map<number, [reached: number, seqs: number]>();

  protected override opened(docId: string, rep: Replica): void {
    if (this.online) this.subscribe(docId, rep);
  }

  protected override sendDeletions(): void {
    const session = this.session;
    if (session === null || !this.online || !this.welcomed) return;
    for (const [docId, deletion] of this.deletions) {
      if (deletion.requestId || deletion.done || deletion.error !== null) continue;
      if (!session.mayDelete) {
        deletion.error = errorEvent(ErrorCode.UNKNOWN_MESSAGE,
          `cannot delete '${docId}': the server does not support deleting documents ` +
          `(no '${DELETE}' capability)`, { docId });
        continue;
      }
      deletion.requestId = session.nextRequestId();
      session.send(deleteDoc(docId, deletion.requestId));
    }
  }

  protected override identityChanged(): void {
    // The server binds a connection to the client id of its Hello: start a new one.
    if (this.session !== null && this.session.state !== State.CLOSED) this.session.close();
  }

  protected override closed(docId: string): void {
    const session = this.session;
    if (session !== null && session.state === State.OPEN && session.docState(docId) !== undefined) {
      session.send({ type: "unsubscribe", docId }); // the server drops our presence there too
    }
    const record = this.presenceRecords.get(docId);
    this.presenceRecords.delete(docId);
    record?.reset();
  }

  // -- presence --------------------------------------------------------------------------

  /**
   * The presence record of open document `docId`.
   *
   * @throws LocalProtocolError: the document is not open.
   */
  docPresence(docId: string): DocPresence {
    let record = this.presenceRecords.get(docId);
    if (record === undefined) {
      if (!this.replicas.has(docId)) {
        throw new LocalProtocolError(`open document '${docId}' before using its presence`);
      }
      record = new DocPresence(docId);
      this.presenceRecords.set(docId, record);
    }
    return record;
  }

  /** A session is open with a server that speaks presence. */
  get presenceAvailable(): boolean {
    return this.online && this.session !== null && this.session.presence;
  }

  /** Set (`null`: clear) this replica's presence state in `docId`; queued when possible. */
  setPresence(docId: string, state: Uint8Array | null, value: PresenceState | null): void {
    const record = this.docPresence(docId);
    if (sameState(state, record.local)) return;
    const had = record.local !== null;
    record.local = state;
    record.value = value;
    record.error = null;
    if (state !== null || had) this.sendPresence(record, this.lastHeard);
  }

  private sendPresence(record: DocPresence, now: number): void {
    const session = this.session;
    if (session === null || !this.presenceAvailable) return;
    if (session.docState(record.docId) === undefined) return; // sent once subscribed
    session.send({ type: "presenceSet", docId: record.docId, state: record.local ?? new Uint8Array() });
    record.sentAt = now;
  }

  // -- connection ------------------------------------------------------------------------

  /** A transport is up: start a session (queues the Hello). */
  connectionMade(now: number): void {
    this.session = new ClientSession();
    this.session.send(hello(this.actorId, this.token, CAPABILITIES));
    this.lastHeard = now;
    this.pingDue = false;
    this.waiting.clear();
    this.batchMine.clear();
    this.welcomed = false;
    for (const deletion of this.deletions.values()) deletion.requestId = 0; // asked again here
    for (const rep of this.replicas.values()) {
      rep.serverRaw = null;
      rep.error = null;
      rep.httpPending = false;
      rep.stored = 0;
      rep.resubscribeAt = 0;
    }
  }

  /** Send a Hello with a fresh `token` on the open session; subscriptions carry on. */
  reauthenticate(token: string): void {
    this.token = token;
    const session = this.session;
    if (session !== null && session.state === State.OPEN) {
      session.send(hello(this.actorId, token, CAPABILITIES));
    }
  }

  /** Whether the token should be renewed at Unix time `nowMs` (see the Welcome handling). */
  reauthDue(nowMs: number): boolean {
    return this.tokenExpiresMs !== null && this.online && nowMs >= this.renewAtMs;
  }

  /** The transport is gone. */
  connectionLost(): void {
    if (this.session !== null) {
      this.session.close();
      this.session = null;
    }
    for (const rep of this.replicas.values()) rep.serverRaw = null;
    for (const record of this.presenceRecords.values()) record.reset();
  }

  /** Frames are waiting: call {@link dataToSend}. */
  get hasDataToSend(): boolean {
    return this.session !== null && this.session.hasDataToSend;
  }

  /** Frames to write to the transport, oldest first. */
  dataToSend(): Uint8Array[] {
    return this.session === null ? [] : this.session.dataToSend();
  }

  /** The session ended: write {@link dataToSend}, then close the transport. */
  get closing(): boolean {
    return this.session !== null && this.session.state === State.CLOSED;
  }

  /** Handle one frame from the server; return the events it carried. */
  receive(frame: Uint8Array, now: number): Event[] {
    const session = this.session;
    if (session === null) return [];
    this.lastHeard = now;
    this.pingDue = false;
    let events: Event[];
    try {
      events = session.receive(frame);
    } catch (exc) {
      if (!(exc instanceof RemoteProtocolError)) throw exc;
      this.lastError = session.error;
      return [];
    }
    for (const event of events) this.handle(event);
    return events;
  }

  private handle(event: Event): void {
    switch (event.type) {
      case "welcome": {
        this.maxFrameBytes = event.maxFrameBytes;
        this.maxPushOps = event.maxPushOps;
        this.maxPresenceBytes = event.maxPresenceBytes;
        if (event.presenceTimeoutMs) this.presenceRenewMs = event.presenceTimeoutMs / 3;
        this.tokenExpiresMs = event.tokenExpiresMs || null;
        if (this.tokenExpiresMs !== null) {
          // Renew when a fifth of the lifetime (at most 30 s) is left, yet at least 2 s before
          // it ends (halfway for shorter ones).
          const left = Math.max(this.tokenExpiresMs - this.wallClock(), 0);
          const margin = Math.min(30_000, Math.max(left / 5, Math.min(2_000, left / 2)));
          this.renewAtMs = this.tokenExpiresMs - margin;
        }
        if (this.welcomed) return; // a re-authentication: subscriptions carry on
        this.welcomed = true;
        for (const [docId, rep] of this.replicas) this.subscribe(docId, rep);
        this.sendDeletions();
        return;
      }
      case "subscribed": {
        const rep = this.replicas.get(event.docId);
        if (rep === undefined) return;
        const mine = seqOf(this.versionOf(rep.doc), this.actorId);
        rep.serverRaw = event.serverVersion;
        const server = this.server(rep);
        if (server !== null) this.checkRolledBack(event.docId, rep, mine, server);
        if (!this.applyRemote(event.docId, rep, event.changes)) return;
        rep.received = true;
        rep.pushed = null;
        rep.stored = 0;
        this.push(event.docId, rep);
        const record = this.presenceRecords.get(event.docId);
        if (record !== undefined) {
          record.reset(); // the server sends everyone there next
          if (record.local !== null) this.sendPresence(record, this.lastHeard);
        }
        return;
      }
      case "ack": {
        this.ackedPushes += 1;
        const mine = this.batchMine.get(event.batchId)?.[0] ?? 0;
        this.batchMine.delete(event.batchId);
        const rep = this.replicas.get(event.docId);
        if (rep === undefined || rep.serverRaw === null) return;
        this.told(rep, event.serverVersion);
        rep.stored = Math.max(rep.stored, mine);
        const error = rep.error;
        if (error !== null && error.retryable && error.batchId < event.batchId) rep.error = null;
        const session = this.session;
        if (session !== null && !session.pushing(event.docId)) {
          const server = this.server(rep);
          const pushedMine = rep.pushed === null ? 0 : seqOf(rep.pushed, this.actorId);
          if (server !== null && Math.max(seqOf(server, this.actorId), rep.stored) < pushedMine) {
            rep.pushed = null; // the server did not take everything we pushed: push the rest again
          }
          this.push(event.docId, rep);
        }
        return;
      }
      case "broadcast": {
        const rep = this.replicas.get(event.docId);
        if (rep === undefined || !this.applyRemote(event.docId, rep, event.changes)) return;
        if (rep.serverRaw !== null) this.told(rep, event.serverVersion);
        return;
      }
      case "presence":
        if (this.replicas.has(event.docId)) this.docPresence(event.docId).apply(event.entries);
        return;
      case "docDeleted":
        this.dropDeleted(event.docId, errorEvent(ErrorCode.DOC_DELETED,
          `document '${event.docId}' was deleted by this client`, { docId: event.docId }));
        return;
      case "error":
        this.handleError(event);
        return;
      default:
        return;
    }
  }

  private handleError(event: ErrorEvent): void {
    const docId = event.docId;
    if (event.requestId) {
      // The answer to one of our DeleteDoc requests: that request failed, nothing else.
      for (const deletion of this.deletions.values()) {
        if (deletion.requestId === event.requestId && !deletion.done) deletion.error = event;
      }
      return;
    }
    if (event.code === ErrorCode.DOC_DELETED && docId) {
      // Deleted by someone with admin access (now, or while we were away): our copy and its
      // unsent edits go; the id is never usable again.
      this.dropDeleted(docId, event);
      return;
    }
    if (PRESENCE_CODES.has(event.code)) {
      const record = this.presenceRecords.get(docId);
      if (record !== undefined) record.error = event;
      return;
    }
    if (event.fatal) {
      this.lastError = event;
      if (isTerminal(event, this.tokenRenewable)) this.terminalError = event;
      return;
    }
    const rep = this.replicas.get(docId);
    if (rep === undefined) return;
    if (event.code === ErrorCode.PERMISSION_CHANGED) {
      // The access changed: subscribe again with the access there is now.
      this.onRejected?.(docId, event);
      rep.error = null;
      rep.pushed = null;
      if (this.online) this.subscribe(docId, rep);
      return;
    }
    if (event.code === ErrorCode.TOO_MANY && event.batchId && !event.retryable && this.fewerOps(this.batchMine.get(event.batchId)?.[1] ?? 0)) {
      // A push of more operations than the server takes at once, or whose merge was too much
      // work: sent again in parts half as large. (Python: the same.)
      this.batchMine.delete(event.batchId);
      rep.pushed = null;
      this.push(docId, rep);
      return;
    }
    this.reject(docId, rep, event);
    if (!event.batchId) {
      // The subscription ended; one the server may take again is tried again later.
      rep.serverRaw = null;
      if (event.retryable) {
        rep.resubscribeAt = this.lastHeard + Math.max(RESUBSCRIBE_MS, event.retryAfterMs);
      }
    } else if (event.retryable) {
      rep.pushed = null;
      rep.retryAt = this.lastHeard + event.retryAfterMs;
    }
  }

  /**
   * The server's version in an Ack or Broadcast: the whole of it, or, on a session with
   * {@link VERSION_DELTAS}, the entries that grew, merged into what we knew.
   */
  private told(rep: Replica, serverVersion: Uint8Array): void {
    const session = this.session;
    if (session === null || !session.versionDeltas) {
      rep.serverRaw = serverVersion;
      return;
    }
    if (serverVersion.length === 0) return; // nothing grew
    const known = this.server(rep);
    if (known === null) return;
    let grown: VersionMap;
    try {
      grown = decodeVersion(serverVersion);
    } catch (exc) {
      this.fail(ErrorCode.BAD_CHANGES, `server version does not decode: ${String(exc)}`);
      return;
    }
    // The frame's bytes stand for the merged version (see server()'s cache).
    rep.serverRaw = serverVersion;
    rep.serverCache = [serverVersion, mergeVersions(known, grown)];
  }

  protected override fail(code: ErrorCode, message: string): void {
    const session = this.session;
    if (session !== null && session.state !== State.CLOSED) {
      const error = errorEvent(code, message, { fatal: true });
      session.send(error);
      this.lastError = error;
    }
  }

  private subscribe(docId: string, rep: Replica): void {
    if (this.session === null) return;
    rep.serverRaw = null;
    this.session.send({ type: "subscribe", docId, version: rep.doc.version() });
  }

  // -- pushing ---------------------------------------------------------------------------

  /** Push every local edit the server has not been sent on this connection. */
  flush(): void {
    if (!this.online) return;
    for (const [docId, rep] of this.replicas) if (rep.serverRaw !== null) this.push(docId, rep);
  }

  private push(docId: string, rep: Replica): void {
    const session = this.session;
    if (session === null || session.state !== State.OPEN) return;
    if (session.docState(docId) !== DocState.SUBSCRIBED) return;
    if (session.pushing(docId)) return; // one push per document at a time
    const server = this.server(rep);
    if (server === null) return;
    const me = this.actorId;
    const version = this.versionOf(rep.doc);
    const base = rep.pushed === null ? server : mergeVersions(server, rep.pushed);
    if (seqOf(base, me) >= seqOf(version, me)) return; // the server holds (or was sent) them
    if (rep.error !== null && !rep.error.retryable) return; // refused on this connection
    if (rep.retryAt > this.lastHeard) return; // the server said when to try again
    const room = this.maxFrameBytes && this.maxFrameBytes - 64 - docId.length;
    // A backlog larger than a frame goes in parts, the next one when this one is acked.
    const since = this.ownSince(version, base);
    const [data, reached] = this.ownPart(rep.doc, version, since, room);
    if (room && data.length > room) {
      rep.error = errorEvent(ErrorCode.FRAME_TOO_LARGE,
        `an edit of '${docId}' takes ${data.length} bytes, more than the frame limit of ` +
        `${this.maxFrameBytes}`, { docId });
      return;
    }
    const batch = session.nextBatchId();
    session.send({ type: "push", docId, batchId: batch, changes: data });
    this.batchMine.set(batch, [reached, reached - seqOf(since, me)]);
    rep.pushed = withEntry(version, me, reached);
  }

  // -- timers ----------------------------------------------------------------------------

  /**
   * Check liveness at time `now` (ms). Every request (Hello, Subscribe, Push, Ping) is timed
   * from the first tick that sees it unanswered. May queue a Ping after `pingIntervalMs` of
   * silence, presence renewals, and pushes or subscriptions the server asked to delay.
   * Returns false when an answer is more than `responseTimeoutMs` overdue: drop the transport.
   */
  tick(now: number): boolean {
    const session = this.session;
    if (session === null || session.state === State.CLOSED) return true;
    const waiting = new Set<string>();
    for (const batch of session.pendingBatches.keys()) waiting.add(`batch:${batch}`);
    for (const docId of this.replicas.keys()) {
      if (session.docState(docId) === DocState.SUBSCRIBING) waiting.add(`subscribe:${docId}`);
    }
    if (session.state !== State.OPEN) waiting.add("hello");
    if (this.pingDue) waiting.add("ping");
    for (const key of [...this.waiting.keys()]) if (!waiting.has(key)) this.waiting.delete(key);
    for (const key of waiting) if (!this.waiting.has(key)) this.waiting.set(key, now);
    const oldest = Math.min(now, ...this.waiting.values());
    if (now - oldest > this.responseTimeoutMs) {
      this.lastError = errorEvent(ErrorCode.UNSPECIFIED,
        `no answer from the server for ${((now - oldest) / 1000).toFixed(1)} s`);
      return false;
    }
    if (now - this.lastHeard > this.pingIntervalMs && !this.pingDue && session.state === State.OPEN) {
      this.nonce += 1;
      session.send({ type: "ping", nonce: this.nonce });
      this.pingDue = true;
    }
    for (const record of this.presenceRecords.values()) {
      if (record.local !== null && (record.sentAt === null || now - record.sentAt >= this.presenceRenewMs)) {
        this.sendPresence(record, now);
      }
    }
    for (const [docId, rep] of this.replicas) {
      if (rep.retryAt && rep.retryAt <= now) {
        rep.retryAt = 0;
        if (rep.serverRaw !== null) this.push(docId, rep);
      }
      if (rep.resubscribeAt && rep.resubscribeAt <= now) {
        rep.resubscribeAt = 0;
        if (session.state === State.OPEN && session.docState(docId) === undefined) this.subscribe(docId, rep);
      }
    }
    return true;
  }
}

function sameState(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
