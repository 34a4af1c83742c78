/**
 * The client session: the sync protocol with no I/O (a port of `synckit.protocol._session`,
 * its `Session` base and `ClientSession`).
 *
 * A session turns events into frame bytes and frame bytes into events, and enforces the state
 * machine of {@link ./state.ts} plus the per-document rules. It never touches a socket, a
 * clock or a timer; the caller moves the bytes:
 *
 * ```ts
 * session.send(event);                       // queue a frame (LocalProtocolError if illegal now)
 * for (const f of session.dataToSend()) ws.send(f);
 * const events = session.receive(frame);     // frames from the server -> events
 * ```
 *
 * When the peer sends something illegal, {@link Session.receive} queues an `Error` frame for
 * it and either drops the frame (a non-fatal, per-document problem: `[]`) or, for a fatal one,
 * closes the session and throws {@link RemoteProtocolError}. Either way send
 * {@link Session.dataToSend} next, and close the transport once the state is `CLOSED`.
 *
 * @module
 */
import { InvalidTypeError, InvalidValueError, LocalProtocolError, RemoteProtocolError } from "../errors.js";
import {
  DELETE,
  ErrorCode,
  MESSAGE_NAMES,
  PRESENCE,
  PRESENCE_CODES,
  PROTOCOL_VERSION,
  VERSION_DELTAS,
  errorEvent,
  type ErrorEvent,
  type Event,
} from "./events.js";
import { decodeNumbered, encodeFrame } from "./frames.js";
import { State, transition, type Role } from "./state.js";

/** Frames larger than this are refused unless a session is built with another limit. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** A document's state on one connection, as the client sees it. */
export enum DocState {
  SUBSCRIBING = "SUBSCRIBING",
  SUBSCRIBED = "SUBSCRIBED",
}

/** Internal: the peer broke a rule; carries the error to tell it. */
class PeerViolation extends Error {
  constructor(readonly error: ErrorEvent) {
    super(error.message);
  }
}

function illegal(message: string, fatal: boolean, docId = "", batchId = 0): PeerViolation {
  return new PeerViolation(errorEvent(ErrorCode.ILLEGAL_STATE, message, { fatal, docId, batchId }));
}

/** Options of a session. */
export interface SessionOptions {
  /** Frames from the peer larger than this are refused (FRAME_TOO_LARGE); at least 64. */
  maxFrameBytes?: number;
}

/** What client and server sessions share; build a {@link ClientSession}. */
export abstract class Session {
  /** This end's role. */
  abstract readonly role: Role;
  protected abstract readonly peer: Role;
  /** Frames from the peer larger than this are refused. */
  readonly maxFrameBytes: number;
  /** The fatal error that closed the session (sent or received), if any. */
  error: ErrorEvent | null = null;
  protected _state: State = State.AWAITING_HELLO;
  protected outbox: Uint8Array[] = [];
  /** Pushes sent (client) and not yet acknowledged: batch id → document id. */
  protected batches = new Map<number, string>();
  protected lastBatch = 0;
  /** Deletions asked (client) and not yet answered: request id → document id. */
  protected deletes = new Map<number, string>();
  protected lastRequest = 0;
  protected sent = 0;
  protected received = 0;
  protected ownCapabilities: ReadonlySet<string> = new Set();
  protected peerCapabilities: ReadonlySet<string> = new Set();

  constructor(options: SessionOptions = {}) {
    const limit = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!(limit >= 64)) throw new InvalidValueError("maxFrameBytes must be at least 64");
    this.maxFrameBytes = limit;
  }

  /** The connection's state. */
  get state(): State {
    return this._state;
  }

  /** The capabilities of the peer's last `Hello` or `Welcome`. */
  get capabilitiesOfPeer(): ReadonlySet<string> {
    return this.peerCapabilities;
  }

  /**
   * Both sides advertised {@link VERSION_DELTAS}: the `serverVersion` of an Ack or Broadcast
   * holds only what grew since the last one sent for its document.
   */
  get versionDeltas(): boolean {
    return this.ownCapabilities.has(VERSION_DELTAS) && this.peerCapabilities.has(VERSION_DELTAS);
  }

  /** Both sides advertised the presence capability: presence messages may flow. */
  get presence(): boolean {
    return this.ownCapabilities.has(PRESENCE) && this.peerCapabilities.has(PRESENCE);
  }

  protected checkPresence(event: Event, sending: boolean): void {
    if (this.presence) return;
    const name = MESSAGE_NAMES[event.type];
    if (sending) {
      throw new LocalProtocolError(`${name} needs the '${PRESENCE}' capability on both sides`);
    }
    throw illegal(
      `${name} sent though the '${PRESENCE}' capability was not advertised by both sides`, true);
  }

  /** Pushes not yet acknowledged or refused: batch id → document id (a copy). */
  get pendingBatches(): Map<number, string> {
    return new Map(this.batches);
  }

  /** `DeleteDoc` requests not yet answered: request id → document id (a copy). */
  get pendingDeletes(): Map<number, string> {
    return new Map(this.deletes);
  }

  /** A push of `docId` is not yet acknowledged or refused. */
  pushing(docId: string): boolean {
    for (const doc of this.batches.values()) if (doc === docId) return true;
    return false;
  }

  /** Frames are queued: call {@link dataToSend}. */
  get hasDataToSend(): boolean {
    return this.outbox.length > 0;
  }

  /** Take the frames queued for the peer, oldest first. */
  dataToSend(): Uint8Array[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  /** The transport is gone: move to CLOSED without telling the peer. */
  close(): void {
    this._state = State.CLOSED;
  }

  /**
   * End the session with the fatal `error` in place of frames never written. `unsent`: how
   * many of the last frames taken with {@link dataToSend} the caller dropped instead of
   * writing (frames still queued are dropped too); the error takes their place in the
   * numbering. Next, call {@link dataToSend} (it returns just the error).
   */
  abort(error: ErrorEvent, unsent = 0): void {
    if (!error.fatal) throw new InvalidValueError("abort needs a fatal Error");
    if (!(unsent >= 0 && unsent <= this.sent - this.outbox.length)) {
      throw new InvalidValueError(`cannot retract ${unsent} frames`);
    }
    if (this._state === State.CLOSED) return;
    this.sent -= unsent + this.outbox.length;
    this.outbox = [];
    this.queue(error);
    this._state = State.CLOSED;
    this.error = error;
  }

  /**
   * Queue `event` for the peer; next, call {@link dataToSend}.
   *
   * @throws LocalProtocolError: the event is not allowed in the current state (nothing queued).
   * @throws InvalidValueError, InvalidTypeError: the event is malformed (nothing queued).
   */
  send(event: Event): void {
    const name = MESSAGE_NAMES[event.type];
    if (this._state === State.CLOSED) {
      throw new LocalProtocolError(`cannot send ${name}: the session is in state CLOSED`);
    }
    const fatal = event.type === "error" && event.fatal;
    let next: State;
    if (fatal) {
      next = State.CLOSED;
    } else {
      const found = transition(this.role, this._state, event.type);
      if (found === undefined) {
        throw new LocalProtocolError(`${this.role} may not send ${name} in state ${this._state}`);
      }
      next = found;
    }
    const frame = encodeFrame(event, this.sent + 1); // checks the fields before any change
    this.checkSend(event);
    if (event.type === "hello" || event.type === "welcome") {
      this.ownCapabilities = new Set(event.capabilities);
    }
    this.sent += 1;
    this.outbox.push(frame);
    this._state = next;
    if (fatal) this.error = event as ErrorEvent;
  }

  /** Per-document rules for sending: throw LocalProtocolError, or record the event. */
  protected checkSend(_event: Event): void {}

  /**
   * Take one frame from the peer and return what it means (zero or one event). A `Ping` is
   * answered with a `Pong` automatically (and still returned). When the frame is illegal, an
   * `Error` frame is queued for the peer: for a problem limited to one document the frame is
   * dropped and `[]` returned; otherwise the session closes. Next, call {@link dataToSend}.
   *
   * @throws RemoteProtocolError: the peer sent something fatal; the session is now CLOSED
   *   and {@link error} says why.
   */
  receive(frame: Uint8Array): Event[] {
    if (this._state === State.CLOSED) return [];
    try {
      return this.receiveFrame(frame);
    } catch (exc) {
      if (!(exc instanceof PeerViolation)) throw exc;
      if (exc.error.fatal) {
        this.queue(exc.error);
        this._state = State.CLOSED;
        this.error = exc.error;
        throw new RemoteProtocolError(exc.error.message);
      }
      if (this._state === State.OPEN) this.queue(exc.error);
      return [];
    }
  }

  protected queue(event: Event): void {
    this.sent += 1;
    this.outbox.push(encodeFrame(event, this.sent));
  }

  private receiveFrame(frame: Uint8Array): Event[] {
    if (!(frame instanceof Uint8Array)) {
      throw new InvalidTypeError(`frames are Uint8Array, got ${typeof frame}`);
    }
    if (frame.length > this.maxFrameBytes) {
      throw new PeerViolation(errorEvent(ErrorCode.FRAME_TOO_LARGE,
        `frame of ${frame.length} bytes exceeds the limit of ${this.maxFrameBytes}`, { fatal: true }));
    }
    const [event, seq] = decodeNumbered(frame);
    if (seq) {
      if (seq !== this.received + 1) {
        throw new PeerViolation(errorEvent(ErrorCode.BAD_FRAME,
          `frame number ${seq} arrived where ${this.received + 1} was due ` +
          `(a frame was lost, repeated or reordered; state ${this._state})`, { fatal: true }));
      }
      this.received = seq;
    }
    if ("kind" in event) {
      // Bad bytes inside an open session's document message only spoil that message.
      const fatal = !(event.code === ErrorCode.INVALID_DOC_ID && this._state === State.OPEN);
      let message = event.message;
      if (event.code === ErrorCode.PROTOCOL_VERSION) {
        message = `${message} (this ${this.role} speaks ${PROTOCOL_VERSION})`;
      }
      throw new PeerViolation(errorEvent(event.code, message,
        { fatal, docId: event.docId, batchId: event.batchId }));
    }
    if (event.type === "error" && event.fatal) {
      this.checkReceive(event);
      this._state = State.CLOSED;
      this.error = event;
      return [event];
    }
    const next = transition(this.peer, this._state, event.type);
    if (next === undefined) {
      throw illegal(`${MESSAGE_NAMES[event.type]} is not allowed from the ${this.peer} ` +
        `in state ${this._state}`, true);
    }
    if ((event.type === "hello" || event.type === "welcome") &&
        event.protocolVersion !== PROTOCOL_VERSION) {
      throw new PeerViolation(errorEvent(ErrorCode.PROTOCOL_VERSION,
        `protocol version ${event.protocolVersion} is not supported ` +
        `(this ${this.role} speaks ${PROTOCOL_VERSION})`, { fatal: true }));
    }
    if (!this.checkReceive(event)) return [];
    if (event.type === "hello" || event.type === "welcome") {
      this.peerCapabilities = new Set(event.capabilities);
    }
    this._state = next;
    if (event.type === "ping") this.queue({ type: "pong", nonce: event.nonce });
    return [event];
  }

  /**
   * Per-document rules for receiving: throw a violation, or return false to drop the event
   * silently (a late frame for a document already left), or record it and return true.
   */
  protected checkReceive(_event: Event): boolean {
    return true;
  }
}

/**
 * The client's end of a connection. Next steps: `send(hello(...))`, wait for a `welcome` from
 * {@link receive}, then send `subscribe` and `push` events freely.
 */
export class ClientSession extends Session {
  /** This end's role: the client. */
  readonly role: Role = "client";
  protected readonly peer: Role = "server";
  private readonly docs = new Map<string, DocState>();
  private readonly left = new Set<string>();

  /** The document's state on this connection; `undefined` when not subscribed. */
  docState(docId: string): DocState | undefined {
    return this.docs.get(docId);
  }

  /** The smallest batch id a new `Push` may use. */
  nextBatchId(): number {
    return this.lastBatch + 1;
  }

  /** The smallest request id a new `DeleteDoc` may use. */
  nextRequestId(): number {
    return this.lastRequest + 1;
  }

  /** The server advertised the {@link DELETE} capability: `DeleteDoc` may be sent. */
  get mayDelete(): boolean {
    return this.peerCapabilities.has(DELETE);
  }

  protected override checkSend(event: Event): void {
    switch (event.type) {
      case "deleteDoc":
        if (!this.mayDelete) {
          throw new LocalProtocolError(
            `DeleteDoc needs a server that advertised the '${DELETE}' capability`);
        }
        if (event.requestId <= this.lastRequest) {
          throw new LocalProtocolError(
            `DeleteDoc request id ${event.requestId} is not above the last one (${this.lastRequest})`);
        }
        this.lastRequest = event.requestId;
        this.deletes.set(event.requestId, event.docId);
        return;
      case "subscribe":
        this.docs.set(event.docId, DocState.SUBSCRIBING);
        this.left.delete(event.docId);
        return;
      case "push": {
        const doc = event.docId;
        if (!this.docs.has(doc)) {
          throw new LocalProtocolError(
            `Push for document '${doc}' which is not subscribed on this connection`);
        }
        if (event.batchId <= this.lastBatch) {
          throw new LocalProtocolError(
            `Push batch id ${event.batchId} is not above the last one (${this.lastBatch})`);
        }
        this.lastBatch = event.batchId;
        this.batches.set(event.batchId, doc);
        return;
      }
      case "unsubscribe":
        if (!this.docs.has(event.docId)) {
          throw new LocalProtocolError(`Unsubscribe from '${event.docId}' which is not subscribed`);
        }
        this.docs.delete(event.docId);
        this.left.add(event.docId);
        return;
      case "presenceSet":
        this.checkPresence(event, true);
        if (!this.docs.has(event.docId)) {
          throw new LocalProtocolError(
            `PresenceSet for document '${event.docId}' which is not subscribed on this connection`);
        }
        return;
      default:
        return;
    }
  }

  protected override checkReceive(event: Event): boolean {
    switch (event.type) {
      case "subscribed":
      case "broadcast":
      case "presence": {
        if (event.type === "presence") this.checkPresence(event, false);
        const doc = event.docId;
        if (this.docs.has(doc)) {
          if (event.type === "subscribed") this.docs.set(doc, DocState.SUBSCRIBED);
          return true;
        }
        if (this.left.has(doc)) return false;
        throw illegal(`${MESSAGE_NAMES[event.type]} for document '${doc}' which was never ` +
          `subscribed (state ${this._state})`, true);
      }
      case "ack":
        if (this.batches.get(event.batchId) !== event.docId) {
          throw illegal(`Ack of batch ${event.batchId} for '${event.docId}' which is not a ` +
            `pending push (state ${this._state})`, true);
        }
        this.batches.delete(event.batchId);
        return true;
      case "docDeleted":
        if (this.deletes.get(event.requestId) !== event.docId) {
          throw illegal(`DocDeleted of request ${event.requestId} for '${event.docId}' which is ` +
            `not a pending DeleteDoc (state ${this._state})`, true);
        }
        this.deletes.delete(event.requestId);
        if (this.docs.has(event.docId)) { // the document is gone: so is its subscription
          this.docs.delete(event.docId);
          this.left.add(event.docId);
        }
        return true;
      case "error":
        if (event.requestId) {
          this.deletes.delete(event.requestId); // answers a DeleteDoc: ends nothing else
        } else if (event.batchId) {
          this.batches.delete(event.batchId);
        } else if (event.docId && this.docs.has(event.docId) && !PRESENCE_CODES.has(event.code)) {
          // A document error outside any push ends that document's subscription.
          this.docs.delete(event.docId);
          this.left.add(event.docId);
        }
        return true;
      default:
        return true;
    }
  }
}
