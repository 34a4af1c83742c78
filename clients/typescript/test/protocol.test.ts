import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ClientSession,
  DocState,
  ErrorCode,
  PRESENCE,
  State,
  decodeFrame,
  decodeHttpAnswer,
  encodeFrame,
  encodeHttpRequest,
  errorEvent,
  hello,
  numberFrame,
  welcome,
  type Event,
} from "../src/protocol/index.js";
import { LocalProtocolError, RemoteProtocolError, InvalidValueError } from "../src/errors.js";
import { decodeHttpSyncRequest, encodeError, encodeHttpSyncResponse } from "../src/gen/synckit/v1/protocol.js";

const bytes = (...b: number[]) => new Uint8Array(b);

/** Frames as a server would number them. */
class FakeServer {
  seq = 0;
  frame(event: Event): Uint8Array {
    this.seq += 1;
    return encodeFrame(event, this.seq);
  }
}

function decodeAll(frames: Uint8Array[]): Event[] {
  return frames.map((f) => {
    const e = decodeFrame(f);
    assert.ok(!("kind" in e), `bad frame: ${JSON.stringify(e)}`);
    return e as Event;
  });
}

function open(capabilities: string[] = []): [ClientSession, FakeServer] {
  const s = new ClientSession();
  const server = new FakeServer();
  s.send(hello("alice", "tok", capabilities));
  s.dataToSend();
  assert.equal(s.state, State.HANDSHAKE);
  const events = s.receive(server.frame(welcome({ maxFrameBytes: 1024, capabilities })));
  assert.equal(events[0]?.type, "welcome");
  assert.equal(s.state, State.OPEN);
  return [s, server];
}

test("handshake: Hello numbered 1, Welcome opens the session", () => {
  const s = new ClientSession();
  assert.equal(s.state, State.AWAITING_HELLO);
  s.send(hello("alice", "secret", [PRESENCE]));
  const [frame] = s.dataToSend();
  assert.ok(frame);
  assert.equal(frame[0], 0x78); // seq field first
  assert.equal(frame[1], 1);
  const decoded = decodeFrame(frame) as Event;
  assert.deepEqual(decoded, hello("alice", "secret", [PRESENCE]));
  s.receive(new FakeServer().frame(welcome({ capabilities: [PRESENCE] })));
  assert.equal(s.state, State.OPEN);
  assert.equal(s.presence, true);
});

test("sending out of state is a LocalProtocolError and queues nothing", () => {
  const s = new ClientSession();
  assert.throws(() => s.send({ type: "subscribe", docId: "d", version: bytes() }), LocalProtocolError);
  assert.equal(s.hasDataToSend, false);
  s.send(hello("a"));
  assert.throws(() => s.send(hello("a")), /may not send Hello in state HANDSHAKE/);
  assert.throws(() => s.send({ type: "push", docId: "bad id", batchId: 1, changes: bytes() }), LocalProtocolError);
});

test("malformed events are refused before anything is queued", () => {
  const [s] = open();
  assert.throws(() => s.send({ type: "subscribe", docId: "not valid!", version: bytes() }), InvalidValueError);
  s.send({ type: "subscribe", docId: "d", version: bytes() });
  assert.throws(() => s.send({ type: "push", docId: "d", batchId: 0, changes: bytes() }), InvalidValueError);
  assert.equal(s.dataToSend().length, 1);
});

test("subscribe, push, ack, broadcast", () => {
  const [s, server] = open();
  s.send({ type: "subscribe", docId: "doc1", version: bytes(1) });
  assert.equal(s.docState("doc1"), DocState.SUBSCRIBING);
  // A push may follow the Subscribe before its answer.
  s.send({ type: "push", docId: "doc1", batchId: s.nextBatchId(), changes: bytes(9) });
  assert.equal(s.pushing("doc1"), true);
  const sent = decodeAll(s.dataToSend());
  assert.deepEqual(sent.map((e) => e.type), ["subscribe", "push"]);
  s.receive(server.frame({ type: "subscribed", docId: "doc1", changes: bytes(2), serverVersion: bytes(3) }));
  assert.equal(s.docState("doc1"), DocState.SUBSCRIBED);
  const [ack] = s.receive(server.frame({ type: "ack", docId: "doc1", batchId: 1, serverVersion: bytes(4) }));
  assert.equal(ack?.type, "ack");
  assert.equal(s.pushing("doc1"), false);
  const [b] = s.receive(server.frame({ type: "broadcast", docId: "doc1", changes: bytes(5), serverVersion: bytes(6) }));
  assert.deepEqual(b, { type: "broadcast", docId: "doc1", changes: bytes(5), serverVersion: bytes(6) });
  assert.throws(() => s.send({ type: "push", docId: "doc1", batchId: 1, changes: bytes() }), /not above the last one/);
  assert.throws(() => s.send({ type: "push", docId: "other", batchId: 2, changes: bytes() }), /not subscribed/);
});

test("a Ping is answered with a Pong of the same nonce", () => {
  const [s, server] = open();
  const [ping] = s.receive(server.frame({ type: "ping", nonce: 42 }));
  assert.equal(ping?.type, "ping");
  assert.deepEqual(decodeAll(s.dataToSend()), [{ type: "pong", nonce: 42 }]);
});

test("an Ack of no pending push breaks the protocol: fatal ILLEGAL_STATE", () => {
  const [s, server] = open();
  s.send({ type: "subscribe", docId: "d", version: bytes() });
  s.dataToSend();
  assert.throws(() => s.receive(server.frame({ type: "ack", docId: "d", batchId: 7, serverVersion: bytes() })), RemoteProtocolError);
  assert.equal(s.state, State.CLOSED);
  assert.equal(s.error?.code, ErrorCode.ILLEGAL_STATE);
  const [told] = decodeAll(s.dataToSend());
  assert.equal(told?.type, "error");
  assert.ok(told?.type === "error" && told.fatal && /not a pending push/.test(told.message));
  assert.deepEqual(s.receive(server.frame({ type: "ping", nonce: 1 })), []); // closed: ignored
});

test("a message not allowed in the state is refused with its name and the state", () => {
  const s = new ClientSession();
  s.send(hello("a"));
  assert.throws(() => s.receive(new FakeServer().frame({ type: "broadcast", docId: "d", changes: bytes(), serverVersion: bytes() })),
    /Broadcast is not allowed from the server in state HANDSHAKE/);
});

test("a broadcast for a document never subscribed is fatal; after Unsubscribe it is dropped", () => {
  const [s, server] = open();
  s.send({ type: "subscribe", docId: "d", version: bytes() });
  s.send({ type: "unsubscribe", docId: "d" });
  assert.deepEqual(s.receive(server.frame({ type: "subscribed", docId: "d", changes: bytes(), serverVersion: bytes() })), []);
  assert.throws(() => s.receive(server.frame({ type: "broadcast", docId: "e", changes: bytes(), serverVersion: bytes() })),
    /never subscribed/);
});

test("errors: a push's error frees the batch, a document error ends the subscription, presence errors do not", () => {
  const [s, server] = open([PRESENCE]);
  s.send({ type: "subscribe", docId: "d", version: bytes() });
  s.send({ type: "push", docId: "d", batchId: 1, changes: bytes(1) });
  s.dataToSend();
  s.receive(server.frame({ type: "subscribed", docId: "d", changes: bytes(), serverVersion: bytes() }));
  const [denied] = s.receive(server.frame(errorEvent(ErrorCode.PERMISSION_DENIED, "read only", { docId: "d", batchId: 1 })));
  assert.equal(denied?.type, "error");
  assert.equal(s.pushing("d"), false);
  assert.equal(s.docState("d"), DocState.SUBSCRIBED);
  s.receive(server.frame(errorEvent(ErrorCode.BAD_PRESENCE, "no", { docId: "d" })));
  assert.equal(s.docState("d"), DocState.SUBSCRIBED);
  s.receive(server.frame(errorEvent(ErrorCode.PERMISSION_CHANGED, "changed", { docId: "d" })));
  assert.equal(s.docState("d"), undefined);
  assert.equal(s.state, State.OPEN);
});

test("a fatal error from the server closes the session and is returned", () => {
  const [s, server] = open();
  const [e] = s.receive(server.frame(errorEvent(ErrorCode.TOKEN_EXPIRED, "expired", { fatal: true, retryable: true })));
  assert.equal(e?.type, "error");
  assert.equal(s.state, State.CLOSED);
  assert.equal(s.error?.code, ErrorCode.TOKEN_EXPIRED);
  assert.throws(() => s.send({ type: "ping", nonce: 1 }), /state CLOSED/);
});

test("malformed frames are typed errors: garbage, empty, unknown, gaps, too large", () => {
  const garbage = () => { const s = new ClientSession(); s.send(hello("a")); return s; };
  let s = garbage();
  assert.throws(() => s.receive(bytes(0xff, 0xff, 0xff)), RemoteProtocolError);
  assert.equal(s.error?.code, ErrorCode.BAD_FRAME);
  s = garbage();
  assert.throws(() => s.receive(bytes()), /empty frame/);
  assert.equal(s.error?.code, ErrorCode.UNKNOWN_MESSAGE);
  s = garbage();
  // field 99 (varint): a message this side does not know
  assert.throws(() => s.receive(bytes(0x98, 0x06, 0x01)), /no message type/);
  s = garbage();
  // Unsubscribe whose doc id is not UTF-8
  assert.throws(() => s.receive(bytes(0x42, 4, 0x0a, 2, 0xff, 0xfe)), /not a valid Envelope/);
  assert.equal(s.error?.code, ErrorCode.BAD_FRAME);
  s = garbage();
  assert.throws(() => s.receive(encodeFrame(welcome(), 2)), /frame number 2 arrived where 1 was due/);
  assert.equal(s.error?.code, ErrorCode.BAD_FRAME);
  s = garbage();
  assert.throws(() => s.receive(encodeFrame(welcome({ protocolVersion: 2 }), 1)), /protocol version 2 is not supported/);
  assert.equal(s.error?.code, ErrorCode.PROTOCOL_VERSION);
  const small = new ClientSession({ maxFrameBytes: 64 });
  small.send(hello("a"));
  assert.throws(() => small.receive(new Uint8Array(65)), /exceeds the limit of 64/);
  assert.equal(small.error?.code, ErrorCode.FRAME_TOO_LARGE);
  const told = decodeFrame(small.dataToSend()[1]!) as Event;
  assert.ok(told.type === "error" && told.code === ErrorCode.FRAME_TOO_LARGE && told.fatal);
});

test("an invalid document id in an open session only drops that message", () => {
  const [s, server] = open();
  s.send({ type: "subscribe", docId: "d", version: bytes() });
  s.dataToSend();
  const body = encodeFrame({ type: "broadcast", docId: "d", changes: bytes(), serverVersion: bytes() });
  // Rewrite the doc id "d" into "!" (same length) to make it invalid on the wire.
  const bad = Uint8Array.from(body, (b) => (b === "d".charCodeAt(0) ? "!".charCodeAt(0) : b));
  server.seq += 1;
  assert.deepEqual(s.receive(numberFrame(bad, server.seq)), []);
  assert.equal(s.state, State.OPEN);
  const [told] = decodeAll(s.dataToSend());
  assert.ok(told?.type === "error" && told.code === ErrorCode.INVALID_DOC_ID && !told.fatal);
});

test("presence needs the capability on both sides", () => {
  const [s, server] = open([]);
  s.send({ type: "subscribe", docId: "d", version: bytes() });
  assert.throws(() => s.send({ type: "presenceSet", docId: "d", state: bytes() }), /needs the 'presence' capability/);
  s.receive(server.frame({ type: "subscribed", docId: "d", changes: bytes(), serverVersion: bytes() }));
  assert.throws(() => s.receive(server.frame({ type: "presence", docId: "d", entries: [] })), /not advertised by both sides/);
  const [p, srv] = open([PRESENCE]);
  p.send({ type: "subscribe", docId: "d", version: bytes() });
  p.send({ type: "presenceSet", docId: "d", state: new TextEncoder().encode("{}") });
  p.receive(srv.frame({ type: "subscribed", docId: "d", changes: bytes(), serverVersion: bytes() }));
  const [ev] = p.receive(srv.frame({ type: "presence", docId: "d", entries: [
    { key: "s:1", principal: "bob", clientId: "b", state: new TextEncoder().encode('{"x":1}'), removed: false }] }));
  assert.ok(ev?.type === "presence" && ev.entries[0]?.principal === "bob");
});

test("abort replaces frames never written by a fatal error", () => {
  const [s] = open();
  s.send({ type: "ping", nonce: 1 });
  s.send({ type: "ping", nonce: 2 });
  s.dataToSend();
  s.abort(errorEvent(ErrorCode.INTERNAL, "gone", { fatal: true }), 1);
  const [frame] = s.dataToSend();
  assert.equal(frame?.[1], 3); // Hello 1, Ping 2, then the error takes the dropped Ping's number
  assert.equal(s.state, State.CLOSED);
});

test("HTTP sync bodies: request encoding, answers and errors", () => {
  const body = encodeHttpRequest({ clientId: "c", token: "t", version: bytes(1), changes: bytes(2) });
  const req = decodeHttpSyncRequest(body);
  assert.equal(req.protocolVersion, 1);
  assert.equal(req.clientId, "c");
  const ok = encodeHttpSyncResponse({ changes: bytes(3), serverVersion: bytes(4) });
  assert.deepEqual(decodeHttpAnswer(ok, true), { type: "httpAnswer", changes: bytes(3), serverVersion: bytes(4) });
  const err = encodeError({ code: ErrorCode.PERMISSION_DENIED, message: "no", docId: "d" });
  const e = decodeHttpAnswer(err, false);
  assert.ok(e?.type === "error" && e.code === ErrorCode.PERMISSION_DENIED && e.fatal);
  assert.equal(decodeHttpAnswer(new TextEncoder().encode("<html>"), false), null);
});
