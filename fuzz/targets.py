"""Fuzz targets: one function per decoder an outsider can reach.

Each target takes the fuzzer's bytes and feeds them to one public entry point, asserting the
contract of its docstring: only the documented error (``DecodeError`` for the core's decoders,
``RemoteProtocolError`` for a session, ``AuthError`` for a token), and a document left exactly
as it was when its input is refused. Anything else escapes as an exception (or an
``AssertionError``), which is what the fuzzer reports as a crash. Hangs and memory are bounded
by the runner (``fuzz/fuzzer.py``: atheris' ``-timeout`` and ``-rss_limit_mb``).

The targets import nothing of atheris: ``tests/fuzz/test_fuzz_corpus.py`` runs every file of
the corpus (``fuzz/corpus/<target>/``) through them in the default test run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import math
import zlib
from collections.abc import Callable, Iterable, Iterator

from synckit import Cursor, Document, VersionVector
from synckit.errors import AuthError, DecodeError, RemoteProtocolError
from synckit.protocol import (
    DELETE,
    PRESENCE,
    Ack,
    Broadcast,
    ClientSession,
    DeleteDoc,
    DocDeleted,
    Error,
    ErrorCode,
    Event,
    Hello,
    Push,
    ServerHttpExchange,
    ServerSession,
    State,
    Subscribe,
    Subscribed,
    Welcome,
    decode_frame,
    decode_http_answer,
)
from synckit.server import JwtVerifier

__all__ = ["JWT_SECRET", "TARGETS", "frames_of", "fresh_target", "join_frames", "sign_token"]

#: The shared secret of the ``jwt`` target's verifier (a hostile signer may know it too: the
#: target signs arbitrary header and payload bytes with it to reach the claims' checks).
JWT_SECRET = b"fuzz-secret-fuzz-secret-fuzz-secret!"
#: Frames bigger than this are refused by the sessions under test (as a server configures it).
MAX_FRAME_BYTES = 1 << 16
#: The HTTP target's body limit.
MAX_BODY_BYTES = 1 << 16
#: The tag of a snapshot's checksum field (field 11, fixed32), which ends every snapshot.
_CHECKSUM_TAG = 11 << 3 | 5
#: The document a session target subscribes to before the fuzzer's frames arrive.
DOC_ID = "doc"


def _fixed_clock() -> int:
    return 1_000_000


def _target_doc() -> Document:
    """A replica with state of its own that bad bytes must not disturb."""
    d = Document("target", clock=_fixed_clock)
    d.set("mine", {"k": [1, "x"]})
    d.get_counter("c").increment(3)
    d.get_set("s").add("a")
    d.get_list("l").append("t")
    t = d.get_text("t")
    t.insert(0, "tt and more 🙂")
    t.delete(1, 3)
    d.get_list("l").insert(0, [1])
    return d


_TARGET_SAVE = _target_doc().save()


def fresh_target() -> Document:
    """The replica every target starts from (its own state, to be left alone)."""
    return Document.load(_TARGET_SAVE, "target")


def _roundtrip(doc: Document) -> None:
    """A document that took the bytes still saves and loads to the same state."""
    view = doc.to_json()
    again = Document.load(doc.save())
    assert again.to_json() == view, "snapshot round trip changed the document"
    assert again.version() == doc.version(), "snapshot round trip changed the version"


def _apply_or_refuse(doc: Document, data: bytes) -> bool:
    """``doc.apply(data)``; on a refusal the document must be exactly as it was."""
    before = (doc.save(), doc.to_json(), doc.version())
    try:
        doc.apply(data)
    except DecodeError:
        after = (doc.save(), doc.to_json(), doc.version())
        assert after == before, "a refused change set changed the document"
        return False
    return True


# -- core --------------------------------------------------------------------------------


def fuzz_changes(data: bytes) -> None:
    """``Document.apply``: DecodeError and the document untouched, or applied and healthy."""
    doc = fresh_target()
    if _apply_or_refuse(doc, data):
        _roundtrip(doc)
        _apply_or_refuse(doc, data)  # idempotent: applying again changes nothing
    empty = Document("empty", clock=_fixed_clock)
    if _apply_or_refuse(empty, data):
        _roundtrip(empty)


def _resealed(data: bytes) -> bytes:
    """``data`` with a good checksum at the end, as a hostile writer can compute it too (else
    almost every mutation stops at the checksum)."""
    if len(data) >= 5 and data[-5] == _CHECKSUM_TAG:
        data = data[:-5]
    return data + bytes([_CHECKSUM_TAG]) + zlib.crc32(data).to_bytes(4, "little")


def fuzz_snapshot(data: bytes) -> None:
    """``Document.load``, of the bytes and of the bytes resealed: DecodeError, or a document
    that works."""
    _load(data)
    _load(_resealed(data))


def _load(data: bytes) -> None:
    try:
        doc = Document.load(data)
    except DecodeError:
        return
    _roundtrip(doc)
    doc.set("after", 1)  # the loaded replica can still edit and sync
    fresh = Document("fresh", clock=_fixed_clock)
    fresh.apply(doc.changes())
    # Every operation it sends is accepted, nothing left waiting. (Not the same view: a
    # hostile snapshot may claim an order of concurrent inserts its history does not make,
    # which cannot be checked without that history; docs/format.md says so.)
    assert fresh.version() == doc.version(), "a loaded document does not sync"


def fuzz_version(data: bytes) -> None:
    """``VersionVector.decode``: DecodeError, or a vector that encodes to an equal one."""
    try:
        vv = VersionVector.decode(data)
    except DecodeError:
        return
    assert VersionVector.decode(vv.encode()) == vv, "version vector round trip"
    doc = fresh_target()
    doc.changes(since=vv)  # a peer's version is used as `since`
    vv.compare(doc.version())


def fuzz_cursor(data: bytes) -> None:
    """``Cursor.decode``: DecodeError, or a cursor any text can resolve (ValueError when the
    cursor names another text, as ``position`` documents)."""
    try:
        cursor = Cursor.decode(data)
    except DecodeError:
        return
    assert Cursor.decode(cursor.encode()) == cursor, "cursor round trip"
    doc = fresh_target()
    for handle in (doc.get_text("t"), doc.get_list("l")):
        try:
            pos = handle.position(cursor)
        except ValueError:
            continue
        if pos is not None:  # None: this replica does not hold the cursor's character
            assert 0 <= pos <= len(handle), f"cursor resolved to {pos} of {len(handle)}"


# -- protocol ----------------------------------------------------------------------------


def frames_of(data: bytes) -> Iterator[bytes]:
    """The fuzzer's bytes as frames: each a 2-byte big-endian length, then that many bytes."""
    while data:
        n = int.from_bytes(data[:2], "big")
        yield data[2 : 2 + n]
        data = data[2 + n :]


def join_frames(frames: list[bytes]) -> bytes:
    """The inverse of :func:`frames_of` (for seeds)."""
    return b"".join(len(f).to_bytes(2, "big") + f for f in frames)


def _feed(session: ClientSession | ServerSession, data: bytes) -> list[Event]:
    events: list[Event] = []
    for frame in frames_of(data):
        assert not isinstance(decode_frame(frame), Exception)
        try:
            events.extend(session.receive(frame))
        except RemoteProtocolError:
            assert session.error is not None and session.error.fatal
            break
        finally:
            session.data_to_send()
    return events


def _apply_received(events: list[Event]) -> None:
    """What a client does with what it receives: apply the changes, read the versions."""
    doc = fresh_target()
    for event in events:
        if isinstance(event, Subscribed | Broadcast):
            _apply_or_refuse(doc, event.changes)
            with contextlib.suppress(DecodeError):
                VersionVector.decode(event.server_version)


def fuzz_client_frames(data: bytes) -> None:
    """``ClientSession.receive`` of the server's frames, by a client that sent its Hello and
    by one subscribed to a document: RemoteProtocolError only."""
    hello_sent = ClientSession(max_frame_bytes=MAX_FRAME_BYTES)
    hello_sent.send(Hello("fuzz"))
    hello_sent.data_to_send()
    _feed(hello_sent, data)
    server = ServerSession(max_frame_bytes=MAX_FRAME_BYTES)
    client = ClientSession(max_frame_bytes=MAX_FRAME_BYTES)
    client.send(Hello("fuzz"))
    for frame in client.data_to_send():
        server.receive(frame)
    server.send(Welcome())
    for frame in server.data_to_send():
        client.receive(frame)
    client.send(Subscribe(DOC_ID))
    client.data_to_send()
    _apply_received(_feed(client, data))


def _answer(server: ServerSession, event: Event) -> None:
    """Answer ``event`` as the hub does, so the fuzzer's later frames meet an open session:
    Welcome a Hello, answer a Subscribe, a Push (apply its changes) and a DeleteDoc."""
    if server.state is State.CLOSED:
        return
    match event:
        case Hello():
            server.send(Welcome((PRESENCE, DELETE), MAX_FRAME_BYTES))
        case Subscribe(doc_id=doc, version=version):
            if version:
                with contextlib.suppress(DecodeError):
                    VersionVector.decode(version)
            server.send(Subscribed(doc, b"", b""))
        case Push(doc_id=doc, batch_id=batch, changes=changes):
            if _apply_or_refuse(fresh_target(), changes):
                server.send(Ack(doc, batch, b""))
            else:
                server.send(Error(ErrorCode.BAD_CHANGES, "bad changes", doc_id=doc, batch_id=batch))
        case DeleteDoc(doc_id=doc, request_id=request):
            server.send(DocDeleted(doc, request))
        case _:
            pass


def _serve(server: ServerSession, frames: Iterable[bytes]) -> list[bytes]:
    """Feed ``frames`` to ``server``, answering them; return the frames it sent."""
    sent: list[bytes] = []
    for frame in frames:
        try:
            events = server.receive(frame)
        except RemoteProtocolError:
            assert server.error is not None and server.error.fatal
            break
        finally:
            sent += server.data_to_send()
        for event in events:
            _answer(server, event)
        sent += server.data_to_send()
    return sent


def fuzz_server_frames(data: bytes) -> None:
    """``ServerSession.receive`` of a client's frames, answered as the hub answers them:
    RemoteProtocolError only."""
    _serve(ServerSession(max_frame_bytes=MAX_FRAME_BYTES), frames_of(data))


def fuzz_http(data: bytes) -> None:
    """An HTTP sync body: ``ServerHttpExchange`` never raises and its frames meet a server
    session; ``decode_http_answer`` (the client's side) never raises either."""
    for delete in (False, True):
        exchange = ServerHttpExchange(DOC_ID, data, max_body_bytes=MAX_BODY_BYTES, delete=delete)
        frames = exchange.frames()
        assert bool(frames) == (exchange.result is None)
        for answer in _serve(ServerSession(max_frame_bytes=MAX_FRAME_BYTES), frames):
            if exchange.receive(answer):
                break
        exchange.abandon(Error(ErrorCode.INTERNAL, "no answer", fatal=True))
        assert exchange.result is not None
    for ok in (True, False):
        decode_http_answer(data, ok=ok)


# -- tokens ------------------------------------------------------------------------------

_VERIFIER = JwtVerifier.from_secret(JWT_SECRET, ("HS256",), clock=lambda: 1_700_000_000.0)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_token(header: bytes, payload: bytes) -> str:
    """A token of any header and payload bytes, with a good HS256 signature."""
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    mac = hmac.new(JWT_SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def fuzz_jwt(data: bytes) -> None:
    """``JwtVerifier.verify``: AuthError (or a subclass), or a principal.

    The first byte picks the mode: even, the rest is the token's text as the Hello carries it;
    odd, the rest is ``header \\0 payload``, signed with the verifier's secret, so the fuzzer
    reaches the checks that run only on a good signature (claims, grants).
    """
    if not data:
        return
    if data[0] % 2 == 0:
        token = data[1:].decode("utf-8", "replace")
    else:
        header, _, payload = data[1:].partition(b"\0")
        token = sign_token(header, payload)
    try:
        principal = _VERIFIER("client", token)
    except AuthError:
        return
    assert principal.id, "a principal without an id"
    expires = principal.expires_at
    # The hub sends the expiry in milliseconds in its Welcome.
    assert expires is None or math.isfinite(expires * 1000), f"expires at {expires}"


TARGETS: dict[str, Callable[[bytes], None]] = {
    "changes": fuzz_changes,
    "snapshot": fuzz_snapshot,
    "version": fuzz_version,
    "cursor": fuzz_cursor,
    "client_frames": fuzz_client_frames,
    "server_frames": fuzz_server_frames,
    "http": fuzz_http,
    "jwt": fuzz_jwt,
}
