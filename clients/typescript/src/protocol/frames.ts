/**
 * Frames: protocol events to `synckit.v1.Envelope` bytes and back (a port of
 * `synckit.protocol._frames`).
 *
 * One frame is one WebSocket binary message holding one Envelope. {@link encodeFrame} never
 * fails on a well-formed event; {@link decodeNumbered} never throws on hostile input and
 * returns a {@link FrameError} saying what was wrong and which code the peer should be told.
 *
 * @module
 */
import {
  ErrorCode,
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  type EnvelopeInit,
  type PresenceEntry as PbPresenceEntry,
} from "../gen/synckit/v1/protocol.js";
import {
  MESSAGE_NAMES,
  PROTOCOL_VERSION,
  checkDocId,
  checkEvent,
  type Event,
  type PresenceEntry,
} from "./events.js";

/**
 * Why a frame could not be read: the code and message to send back. `docId` and `batchId`
 * are set when the frame was readable enough to tell which document or push it was about.
 */
export interface FrameError {
  readonly kind: "frameError";
  readonly code: ErrorCode;
  readonly message: string;
  readonly docId: string;
  readonly batchId: number;
}

function frameError(code: ErrorCode, message: string, docId = "", batchId = 0): FrameError {
  return { kind: "frameError", code, message, docId, batchId };
}

/** Serialize one event into frame bytes numbered `seq` (0: unnumbered). */
export function encodeFrame(event: Event, seq = 0): Uint8Array {
  return numberFrame(encodeFrameBody(event), seq);
}

/**
 * Frame bytes from {@link encodeFrameBody} output, numbered `seq`: the number (field 15,
 * a varint) is written in front, as protobuf fields may come in any order.
 */
export function numberFrame(body: Uint8Array, seq: number): Uint8Array {
  if (!seq) return body;
  const head: number[] = [0x78];
  let rest = BigInt(seq);
  while (rest > 0x7fn) {
    head.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  head.push(Number(rest));
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

type Body = Envelope["body"];
type BodyInit = NonNullable<EnvelopeInit["body"]>;

/**
 * Serialize one event into an unnumbered frame.
 *
 * @throws InvalidValueError, InvalidTypeError: the event is malformed (see `checkEvent`).
 */
export function encodeFrameBody(event: Event): Uint8Array {
  checkEvent(event);
  return encodeEnvelope({ body: toBody(event) });
}

function toBody(event: Event): BodyInit {
  switch (event.type) {
    case "hello":
      return { case: "hello", value: {
        protocolVersion: event.protocolVersion, clientId: event.clientId, token: event.token,
        capabilities: event.capabilities } };
    case "welcome":
      return { case: "welcome", value: {
        protocolVersion: event.protocolVersion,
        capabilities: event.capabilities,
        maxFrameBytes: event.maxFrameBytes,
        tokenExpiresMs: event.tokenExpiresMs,
        principal: event.principal,
        maxPresenceBytes: event.maxPresenceBytes,
        presenceTimeoutMs: event.presenceTimeoutMs,
        maxPushOps: event.maxPushOps,
      } };
    case "subscribe":
      return { case: "subscribe", value: { docId: event.docId, version: event.version } };
    case "subscribed":
      return { case: "subscribed", value: {
        docId: event.docId, changes: event.changes, serverVersion: event.serverVersion } };
    case "push":
      return { case: "push", value: { docId: event.docId, batchId: event.batchId, changes: event.changes } };
    case "ack":
      return { case: "ack", value: {
        docId: event.docId, batchId: event.batchId, serverVersion: event.serverVersion } };
    case "broadcast":
      return { case: "broadcast", value: {
        docId: event.docId, changes: event.changes, serverVersion: event.serverVersion } };
    case "unsubscribe":
      return { case: "unsubscribe", value: { docId: event.docId } };
    case "presenceSet":
      return { case: "presenceSet", value: { docId: event.docId, state: event.state } };
    case "presence":
      return { case: "presence", value: {
        docId: event.docId,
        entries: event.entries.map((e) => ({
          key: e.key, principal: e.principal, clientId: e.clientId, state: e.state,
          removed: e.removed })),
      } };
    case "deleteDoc":
      return { case: "deleteDoc", value: { docId: event.docId, requestId: event.requestId } };
    case "docDeleted":
      return { case: "docDeleted", value: { docId: event.docId, requestId: event.requestId } };
    case "ping":
      return { case: "ping", value: { nonce: event.nonce } };
    case "pong":
      return { case: "pong", value: { nonce: event.nonce } };
    case "error":
      return { case: "error", value: {
        code: event.code, message: event.message, retryable: event.retryable,
        fatal: event.fatal, docId: event.docId, batchId: event.batchId,
        retryAfterMs: event.retryAfterMs, requestId: event.requestId } };
  }
}

/** Read one frame: the event, or a {@link FrameError} when the bytes are bad. */
export function decodeFrame(data: Uint8Array): Event | FrameError {
  return decodeNumbered(data)[0];
}

class OutOfRange extends Error {}

function num(name: string, value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new OutOfRange(`${name} ${value} is above 2**53 - 1`);
  }
  return Number(value);
}

/**
 * Like {@link decodeFrame}, with the frame's number (0 when unnumbered or unreadable).
 * Never throws on hostile input: garbage, truncation, unknown message types, out-of-range
 * fields and invalid document ids all come back as a {@link FrameError}.
 */
export function decodeNumbered(data: Uint8Array): [Event | FrameError, number] {
  let env: Envelope;
  try {
    env = decodeEnvelope(data);
  } catch (exc) {
    return [frameError(ErrorCode.BAD_FRAME, `frame is not a valid Envelope (${String(exc)})`), 0];
  }
  let seq: number;
  try {
    seq = num("frame number", env.seq);
  } catch (exc) {
    return [frameError(ErrorCode.BAD_FRAME, (exc as Error).message), 0];
  }
  const body = env.body;
  if (body.case === undefined) {
    if (data.length) {
      return [frameError(ErrorCode.UNKNOWN_MESSAGE, "frame holds no message type this side knows"), seq];
    }
    return [frameError(ErrorCode.UNKNOWN_MESSAGE, "empty frame"), seq];
  }
  const title = MESSAGE_NAMES[body.case];
  if ((body.case === "hello" || body.case === "welcome") &&
      body.value.protocolVersion !== PROTOCOL_VERSION) {
    // Checked before any other field: another revision may fill them differently.
    return [frameError(ErrorCode.PROTOCOL_VERSION,
      `protocol version ${body.value.protocolVersion} is not supported`), seq];
  }
  const value = body.value as { docId?: string; batchId?: bigint };
  const docId = value.docId ?? "";
  let batchId = 0;
  if (value.batchId !== undefined && value.batchId <= BigInt(Number.MAX_SAFE_INTEGER)) {
    batchId = Number(value.batchId);
  }
  if (value.docId !== undefined && body.case !== "error") {
    const problem = checkDocId(docId);
    if (problem !== null) {
      return [frameError(ErrorCode.INVALID_DOC_ID, `${title}: ${problem}`, "", batchId), seq];
    }
  }
  try {
    return [build(body), seq];
  } catch (exc) {
    if (exc instanceof OutOfRange) {
      return [frameError(ErrorCode.BAD_FRAME, `${title}: ${exc.message}`, docId, batchId), seq];
    }
    throw exc;
  }
}

function entry(m: PbPresenceEntry): PresenceEntry {
  return { key: m.key, principal: m.principal, clientId: m.clientId, state: m.state, removed: m.removed };
}

function build(body: Body): Event {
  switch (body.case) {
    case "hello": {
      const m = body.value;
      return { type: "hello", clientId: m.clientId, token: m.token,
        capabilities: [...m.capabilities], protocolVersion: m.protocolVersion };
    }
    case "welcome": {
      const m = body.value;
      return {
        type: "welcome",
        capabilities: [...m.capabilities],
        maxFrameBytes: num("Welcome.max_frame_bytes", m.maxFrameBytes),
        protocolVersion: m.protocolVersion,
        tokenExpiresMs: num("Welcome.token_expires_ms", m.tokenExpiresMs),
        principal: m.principal,
        maxPresenceBytes: num("Welcome.max_presence_bytes", m.maxPresenceBytes),
        presenceTimeoutMs: num("Welcome.presence_timeout_ms", m.presenceTimeoutMs),
        maxPushOps: num("Welcome.max_push_ops", m.maxPushOps),
      };
    }
    case "subscribe":
      return { type: "subscribe", docId: body.value.docId, version: body.value.version };
    case "subscribed":
      return { type: "subscribed", docId: body.value.docId, changes: body.value.changes,
        serverVersion: body.value.serverVersion };
    case "push":
      return { type: "push", docId: body.value.docId,
        batchId: num("Push.batch_id", body.value.batchId), changes: body.value.changes };
    case "ack":
      return { type: "ack", docId: body.value.docId,
        batchId: num("Ack.batch_id", body.value.batchId), serverVersion: body.value.serverVersion };
    case "broadcast":
      return { type: "broadcast", docId: body.value.docId, changes: body.value.changes,
        serverVersion: body.value.serverVersion };
    case "unsubscribe":
      return { type: "unsubscribe", docId: body.value.docId };
    case "presenceSet":
      return { type: "presenceSet", docId: body.value.docId, state: body.value.state };
    case "presence":
      return { type: "presence", docId: body.value.docId, entries: body.value.entries.map(entry) };
    case "deleteDoc":
      return { type: "deleteDoc", docId: body.value.docId,
        requestId: num("DeleteDoc.request_id", body.value.requestId) };
    case "docDeleted":
      return { type: "docDeleted", docId: body.value.docId,
        requestId: num("DocDeleted.request_id", body.value.requestId) };
    case "ping":
      return { type: "ping", nonce: num("Ping.nonce", body.value.nonce) };
    case "pong":
      return { type: "pong", nonce: num("Pong.nonce", body.value.nonce) };
    case "error": {
      const m = body.value;
      // A newer peer's code: keep the message, lose the detail.
      const code = ErrorCode[m.code] === undefined ? ErrorCode.UNSPECIFIED : m.code;
      return { type: "error", code, message: m.message, retryable: m.retryable, fatal: m.fatal,
        docId: m.docId, batchId: num("Error.batch_id", m.batchId),
        retryAfterMs: num("Error.retry_after_ms", m.retryAfterMs),
        requestId: num("Error.request_id", m.requestId) };
    }
    case undefined:
      throw new Error("unreachable: checked by the caller");
  }
}
