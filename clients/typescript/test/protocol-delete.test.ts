/**
 * Deleting a document on the wire (a port of `tests/protocol/test_protocol_delete.py`):
 * DeleteDoc / DocDeleted frames, the "delete" capability, errors that answer a request (and
 * end no subscription), DOC_DELETED.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ClientSession,
  DELETE,
  DocState,
  ErrorCode,
  State,
  decodeFrame,
  deleteDoc,
  docDeleted,
  encodeFrame,
  errorEvent,
  errorToException,
  hello,
  welcome,
  type Event,
} from "../src/protocol/index.js";
import {
  DocumentDeletedError,
  InvalidValueError,
  LocalProtocolError,
  PermissionDeniedError,
  RemoteProtocolError,
} from "../src/errors.js";
import { decodeEnvelope, encodeEnvelope, ErrorCode as PbErrorCode } from "../src/gen/synckit/v1/protocol.js";

const empty = new Uint8Array();

/** A client session and the numbering of a server's frames. */
class Pair {
  readonly client = new ClientSession();
  private seq = 0;
  /** Deliver one server event to the client; returns what the client made of it. */
  fromServer(event: Event): Event[] {
    this.seq += 1;
    return this.client.receive(encodeFrame(event, this.seq));
  }
  /** Send one client event and return what the server would read. */
  fromClient(event: Event): Event[] {
    this.client.send(event);
    return this.client.dataToSend().map((f) => decodeFrame(f) as Event);
  }
}

function open(capabilities: string[] = [DELETE]): Pair {
  const pair = new Pair();
  pair.fromClient(hello("alice"));
  pair.fromServer(welcome({ capabilities }));
  assert.equal(pair.client.state, State.OPEN);
  return pair;
}

function subscribed(pair: Pair, docId: string): void {
  pair.fromClient({ type: "subscribe", docId, version: empty });
  pair.fromServer({ type: "subscribed", docId, changes: empty, serverVersion: empty });
  assert.equal(pair.client.docState(docId), DocState.SUBSCRIBED);
}

test("delete frames round trip", () => {
  for (const event of [
    deleteDoc("notes", 7),
    docDeleted("notes", 7),
    errorEvent(ErrorCode.DOC_DELETED, "gone", { docId: "notes", requestId: 3 }),
  ]) {
    assert.deepEqual(decodeFrame(encodeFrame(event, 4)), event);
  }
  const env = decodeEnvelope(encodeFrame(deleteDoc("notes", 1)));
  assert.equal(env.body.case, "deleteDoc");
  assert.equal(ErrorCode.DOC_DELETED, 24);
  assert.equal(PbErrorCode.DOC_DELETED, 24);
});

test("bad delete values are refused", () => {
  assert.throws(() => encodeFrame(deleteDoc("notes", 0)), /requestId must be at least 1/);
  assert.throws(() => encodeFrame(deleteDoc("no spaces", 1)), InvalidValueError);
  const bytes = encodeEnvelope({
    body: { case: "deleteDoc", value: { docId: "../etc", requestId: 1n } },
  });
  const bad = decodeFrame(bytes);
  assert.ok("kind" in bad);
  assert.equal(bad.code, ErrorCode.INVALID_DOC_ID);
});

test("DOC_DELETED is a DocumentDeletedError naming the document", () => {
  const exc = errorToException(errorEvent(ErrorCode.DOC_DELETED, "gone for good", { docId: "notes" }));
  assert.ok(exc instanceof DocumentDeletedError);
  assert.equal(exc.docId, "notes");
  assert.match(exc.message, /DOC_DELETED/);
});

test("a client asks only a server that advertised delete", () => {
  const pair = open([]);
  assert.equal(pair.client.mayDelete, false);
  assert.throws(() => pair.client.send(deleteDoc("notes", 1)), (e: unknown) =>
    e instanceof LocalProtocolError && /'delete' capability/.test(e.message));
  assert.deepEqual(pair.client.pendingDeletes, new Map());
  assert.equal(pair.client.hasDataToSend, false);
});

test("DocDeleted answers the request and ends the subscription", () => {
  const pair = open();
  assert.equal(pair.client.mayDelete, true);
  subscribed(pair, "notes");
  const request = pair.client.nextRequestId();
  assert.equal(request, 1);
  assert.deepEqual(pair.fromClient(deleteDoc("notes", request)), [deleteDoc("notes", request)]);
  assert.deepEqual(pair.client.pendingDeletes, new Map([[request, "notes"]]));
  assert.deepEqual(pair.fromServer(docDeleted("notes", request)), [docDeleted("notes", request)]);
  assert.deepEqual(pair.client.pendingDeletes, new Map());
  assert.equal(pair.client.docState("notes"), undefined);
  // A late broadcast for the deleted document is dropped, not fatal.
  assert.deepEqual(pair.fromServer({ type: "broadcast", docId: "notes", changes: empty, serverVersion: empty }), []);
  assert.throws(() => pair.client.send(deleteDoc("other", request)), /not above/);
  assert.equal(pair.client.nextRequestId(), request + 1);
});

test("a DeleteDoc needs no subscription", () => {
  const pair = open();
  pair.fromClient(deleteDoc("elsewhere", 1));
  assert.deepEqual(pair.fromServer(docDeleted("elsewhere", 1)), [docDeleted("elsewhere", 1)]);
  assert.equal(pair.client.state, State.OPEN);
});

test("an error answering a request ends no subscription", () => {
  const pair = open();
  subscribed(pair, "notes");
  pair.fromClient(deleteDoc("notes", 1));
  const refusal = errorEvent(ErrorCode.PERMISSION_DENIED, "no", { docId: "notes", requestId: 1 });
  assert.deepEqual(pair.fromServer(refusal), [refusal]);
  assert.ok(errorToException(refusal) instanceof PermissionDeniedError);
  assert.deepEqual(pair.client.pendingDeletes, new Map());
  assert.equal(pair.client.docState("notes"), DocState.SUBSCRIBED);
  // Whereas DOC_DELETED naming the document ends it, as any document error does.
  pair.fromServer(errorEvent(ErrorCode.DOC_DELETED, "gone", { docId: "notes" }));
  assert.equal(pair.client.docState("notes"), undefined);
});

test("an unasked DocDeleted is fatal", () => {
  const pair = open();
  assert.throws(() => pair.fromServer(docDeleted("notes", 5)), (e: unknown) =>
    e instanceof RemoteProtocolError && /not a pending DeleteDoc/.test(e.message));
  assert.equal(pair.client.state, State.CLOSED);
  // Answered twice is unasked the second time.
  const again = open();
  again.fromClient(deleteDoc("notes", 1));
  again.fromServer(docDeleted("notes", 1));
  assert.throws(() => again.fromServer(docDeleted("notes", 1)), RemoteProtocolError);
});

test("DeleteDoc is a client message and DocDeleted a server one", () => {
  const pair = open();
  assert.throws(() => pair.client.send(docDeleted("notes", 1)), /may not send DocDeleted/);
  const fresh = new ClientSession();
  assert.throws(() => fresh.send(deleteDoc("notes", 1)), LocalProtocolError);
});
