"""Seed inputs for the fuzz targets, made by the core and the protocol themselves.

``python fuzz/fuzzer.py --seed`` writes them to ``fuzz/corpus/<target>/seed-*``. The change sets
and snapshots are the Python-made vectors the TypeScript port is tested against
(``clients/typescript/test/vectors/``) and a replica that used every kind of operation.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from pathlib import Path

from targets import JWT_SECRET, fresh_target, join_frames, sign_token

from synckit import Document, VersionVector
from synckit.protocol import (
    Ack,
    Broadcast,
    DeleteDoc,
    DocDeleted,
    Error,
    ErrorCode,
    Event,
    Hello,
    HttpSyncAnswer,
    HttpSyncRequest,
    Ping,
    Pong,
    Presence,
    PresenceEntry,
    PresenceSet,
    Push,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    encode_frame,
    encode_http_answer,
    encode_http_error,
    encode_http_request,
)

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "clients" / "typescript" / "test" / "vectors"


def writer_doc(clock: Callable[[], int]) -> Document:
    """A replica that used every kind of operation, some of it after hearing from another."""
    w = Document("writer", clock=clock)
    other = Document("other", clock=clock)
    other.set("o", {"nested": [1, 2.5, None, "ü"]})
    other.get_list("l").append("from other")
    w.apply(other.changes())
    w.set("f", [1, {"a": "b"}])
    w.update({"g": 2, "h": "日本"})
    w.delete("g")
    c = w.get_counter("c")
    c.increment(5)
    c.decrement(2)
    s = w.get_set("s")
    s.add(1)
    s.add("x")
    s.remove("x")
    lst = w.get_list("l")
    lst.insert(0, "a")
    lst.append({"k": [True]})
    lst.move(0, 2)
    lst.delete(1)
    t = w.get_text("t")
    t.insert(0, "héllo wörld 🙂")
    t.delete(2, 3)
    t.insert(1, "X")
    return w


def seeds() -> dict[str, list[bytes]]:
    clock = itertools.count(1_003, 3).__next__  # a wall clock stepping 3 ms per reading
    w = writer_doc(clock)
    half = Document("half", clock=clock)
    half.apply(w.changes(until=VersionVector({"other": 1})))
    changes = [w.changes(), w.changes(since=half.version()), Document("e").changes()]
    snapshots = [w.save(), half.save(), Document("e").save()]
    for path in sorted(VECTORS.glob("*.bin")) + sorted((VECTORS / "from-ts").glob("*.bin")):
        (snapshots if "snapshot" in path.name else changes).append(path.read_bytes())
    versions = [w.version().encode(), half.version().encode(), VersionVector().encode()]
    target = fresh_target()
    t = target.get_text("t")
    lst = target.get_list("l")
    cursors = [t.cursor(0).encode(), t.cursor(3).encode(), t.cursor(len(t)).encode()]
    cursors += [lst.cursor(0).encode(), lst.cursor(len(lst)).encode()]
    vv = w.version().encode()
    ch = w.changes()
    entry = PresenceEntry("k", "p", "c", b'{"x":1}')
    to_client: list[Event] = [
        Subscribed("doc", ch, vv),
        Broadcast("doc", ch, vv),
        Ack("doc", 1, vv),
        Presence("doc", (entry, PresenceEntry("k2", removed=True))),
        DocDeleted("doc", 1),
        Ping(7),
        Pong(7),
        Error(ErrorCode.RATE_LIMITED, "slow down", True, False, "doc", 1, 500),
        Error(ErrorCode.AUTH_FAILED, "no", False, True),
    ]
    to_server: list[Event] = [
        Hello("alice", "token", ("presence", "delete")),
        Subscribe("doc", vv),
        Push("doc", 1, ch),
        PresenceSet("doc", b'{"x":1}'),
        Unsubscribe("doc"),
        DeleteDoc("doc", 2),
        Ping(1),
        Pong(1),
    ]
    client_frames = [
        join_frames([encode_frame(e, 0) for e in to_client]),
        join_frames([encode_frame(e, n) for n, e in enumerate(to_client, 1)]),
        join_frames([encode_frame(Welcome(("presence",), 1 << 20))]),
    ]
    server_frames = [
        join_frames([encode_frame(e, 0) for e in to_server]),
        join_frames([encode_frame(e, n) for n, e in enumerate(to_server, 1)]),
    ]
    http = [
        encode_http_request(HttpSyncRequest("alice", "token", vv, ch)),
        encode_http_request(HttpSyncRequest("alice", "", b"", b"")),
        encode_http_answer(HttpSyncAnswer(ch, vv)),
        encode_http_error(Error(ErrorCode.PERMISSION_DENIED, "no", doc_id="doc")),
    ]
    header = json.dumps({"alg": "HS256", "typ": "JWT"}).encode()
    claims = {
        "sub": "alice",
        "exp": 1_800_000_000,
        "nbf": 1_600_000_000,
        "synckit": {"docs": {"team/*": "write", "doc": "read"}, "admin": True},
    }
    payload = json.dumps(claims).encode()
    jwt_seeds = [
        b"\x01" + header + b"\0" + payload,
        b"\x01" + header + b"\0" + json.dumps({"sub": "bob", "exp": 1}).encode(),
        b"\x00" + sign_token(header, payload).encode(),
        b"\x00" + sign_token(header, payload)[:-3].encode() + b"abc",
    ]
    assert len(JWT_SECRET) >= 32
    return {
        "changes": changes,
        "snapshot": snapshots,
        "version": versions,
        "cursor": cursors,
        "client_frames": client_frames,
        "server_frames": server_frames,
        "http": http,
        "jwt": jwt_seeds,
    }


def write(corpus: Path) -> None:
    for target, inputs in seeds().items():
        folder = corpus / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            name = "seed-" + hashlib.sha1(data).hexdigest()
            (folder / name).write_bytes(data)
        print(f"{target}: {len(inputs)} seeds in {folder}")
