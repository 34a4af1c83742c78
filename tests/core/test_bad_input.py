"""Bad bytes and bad values: a clear DecodeError/TypeError, and the document untouched.

Corrupt, truncated, bit-flipped and hostile bytes given to ``Document.apply``,
``Document.load`` and ``VersionVector.decode`` must raise a subclass of
:class:`synckit.errors.DecodeError` whose message names what was wrong, and leave the
document exactly as it was (same ``save()`` bytes, same ``to_json()``). Mutated bytes that
still happen to be valid may apply, but must never raise anything else or leave a document
that fails later.
"""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeclock import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synckit import Cursor, Document, VersionVector
from synckit.errors import DecodeError, SyncKitError, UnsupportedFormatError
from synckit.v1 import changes_pb2

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def writer_doc() -> Document:
    """A replica that used every kind of operation, some of it after hearing from another."""
    w = Document("writer", clock=FakeClock(1_000, step=3))
    other = Document("other", clock=FakeClock(50, step=3))
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
    s.add(True)
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


def target_doc() -> Document:
    """A replica with state of its own that bad bytes must not disturb."""
    d = Document("target", clock=FakeClock(7, step=3))
    d.set("mine", 1)
    d.get_counter("c").increment(1)
    d.get_list("l").append("t")
    d.get_text("t").insert(0, "tt")
    return d


def sealed(body: bytes) -> bytes:
    """Snapshot bytes with their checksum, as a hostile writer can compute it too."""
    return body + bytes([11 << 3 | 5]) + zlib.crc32(body).to_bytes(4, "little")


def snapshot_of(doc: Document) -> tuple[bytes, Any, VersionVector]:
    return doc.save(), doc.to_json(), doc.version()


def assert_rejected(
    doc: Document,
    action: Callable[[], object],
    *words: str,
    error: type[DecodeError] = DecodeError,
) -> DecodeError:
    """``action`` raises ``error`` naming every one of ``words``; ``doc`` is untouched."""
    before = snapshot_of(doc)
    with pytest.raises(error) as info:
        action()
    message = str(info.value).lower()
    for w in words:
        assert w.lower() in message, (w, str(info.value))
    assert snapshot_of(doc) == before
    return info.value


def assert_healthy(doc: Document) -> None:
    """The document still works: views, snapshot round trip, sync to a fresh replica."""
    view = doc.to_json()
    again = Document.load(doc.save())
    assert again.to_json() == view
    assert again.version() == doc.version()
    fresh = Document("fresh")
    fresh.apply(doc.changes())
    assert fresh.version() == doc.version()
    assert fresh.to_json() == view


def parsed(data: bytes) -> changes_pb2.ChangeSet:
    msg = changes_pb2.ChangeSet()
    msg.ParseFromString(data)
    return msg


def change_set(
    clients: list[str],
    names: list[str],
    *,
    client: int = 0,
    start: int = 1,
    kinds: list[int],
    ints: list[int] | None = None,
    hlcs: list[int] | None = None,
    values: str = "",
    strs: list[str] | None = None,
    text: str = "",
    deps: dict[int, int] | None = None,
    fmt: int = 1,
) -> bytes:
    msg = changes_pb2.ChangeSet(format=fmt, clients=clients, names=names)
    ch = msg.changes.add()
    ch.client = client
    ch.start = start
    for c, s in (deps or {}).items():
        ch.dep_clients.append(c)
        ch.dep_seqs.append(s)
    ch.kinds.extend(kinds)
    ch.ints.extend(ints or [])
    ch.hlcs.extend(hlcs or [])
    ch.values = values
    ch.strs.extend(strs or [])
    ch.text = text
    return msg.SerializeToString()


K = changes_pb2  # op kinds: K.OP_KIND_*

# ---------------------------------------------------------------------------- apply: hostile


def hostile_changes() -> Iterator[tuple[str, bytes, tuple[str, ...]]]:
    """(case, bytes, words the error message must contain)."""
    ok_hlc = [5 << 16]
    yield "empty", b"", ("empty",)
    yield "garbage", b"\xff\xfe\xfd\xfc", ("protobuf",)
    yield "a snapshot is not a change set", Document("z").save(), ()
    yield (
        "client index outside the table",
        change_set(
            ["a"], ["f"], client=3, kinds=[K.OP_KIND_FIELD_SET], ints=[0], hlcs=ok_hlc, values="[1]"
        ),
        ("client index 3",),
    )
    yield (
        "name index outside the table",
        change_set(["a"], ["f"], kinds=[K.OP_KIND_FIELD_SET], ints=[7], hlcs=ok_hlc, values="[1]"),
        ("name index 7",),
    )
    yield (
        "start seq 0",
        change_set(
            ["a"], ["f"], start=0, kinds=[K.OP_KIND_FIELD_SET], ints=[0], hlcs=ok_hlc, values="[1]"
        ),
        ("start seq",),
    )
    yield (
        "absurd start seq",
        change_set(["a"], ["f"], start=2**63, kinds=[K.OP_KIND_COUNTER_ADD], ints=[0, 1]),
        ("start seq",),
    )
    yield (
        "no operations",
        change_set(["a"], ["f"], kinds=[]),
        ("no operations",),
    )
    yield (
        "unknown operation kind",
        change_set(["a"], ["f"], kinds=[99], ints=[0]),
        ("unknown operation kind 99",),
    )
    yield (
        "depends on its own client",
        change_set(["a"], ["c"], kinds=[K.OP_KIND_COUNTER_ADD], ints=[0, 1], deps={0: 4}),
        ("own client",),
    )
    yield (
        "dependency client outside the table",
        change_set(["a"], ["c"], kinds=[K.OP_KIND_COUNTER_ADD], ints=[0, 1], deps={5: 1}),
        ("dependency client index 5",),
    )
    yield (
        "duplicate client ids",
        change_set(["a", "a"], ["c"], kinds=[K.OP_KIND_COUNTER_ADD], ints=[0, 1]),
        ("appears twice",),
    )
    yield (
        "empty client id",
        change_set([""], ["c"], kinds=[K.OP_KIND_COUNTER_ADD], ints=[0, 1]),
        ("empty client id",),
    )
    yield (
        "NaN in values",
        change_set(
            ["a"], ["f"], kinds=[K.OP_KIND_FIELD_SET], ints=[0], hlcs=ok_hlc, values="[NaN]"
        ),
        ("nan",),
    )
    yield (
        "Infinity in values",
        change_set(
            ["a"],
            ["f"],
            kinds=[K.OP_KIND_FIELD_SET],
            ints=[0],
            hlcs=ok_hlc,
            values='[{"x": -Infinity}]',
        ),
        ("infinity",),
    )
    yield (
        # (Python's json reads it as inf: applied, the document could no longer be encoded.)
        "a number too large for a double in values",
        change_set(
            ["a"],
            ["f"],
            kinds=[K.OP_KIND_FIELD_SET],
            ints=[0],
            hlcs=ok_hlc,
            values='[{"x": [-1e400]}]',
        ),
        ("1e400", "finite"),
    )
    yield (
        "values that are not JSON",
        change_set(["a"], ["f"], kinds=[K.OP_KIND_FIELD_SET], ints=[0], hlcs=ok_hlc, values="[1,"),
        ("json",),
    )
    yield (
        "values not an array",
        change_set(
            ["a"], ["f"], kinds=[K.OP_KIND_FIELD_SET], ints=[0], hlcs=ok_hlc, values='{"a": 1}'
        ),
        ("array",),
    )
    yield (
        "values nested a million deep",
        change_set(
            ["a"],
            ["f"],
            kinds=[K.OP_KIND_FIELD_SET],
            ints=[0],
            hlcs=ok_hlc,
            values="[" * 1_000_000 + "]" * 1_000_000,
        ),
        ("json",),
    )
    yield (
        "too few values",
        change_set(
            ["a"],
            ["f"],
            kinds=[K.OP_KIND_FIELD_SET] * 2,
            ints=[0, 0],
            hlcs=ok_hlc * 2,
            values="[1]",
        ),
        ("column", "too early"),
    )
    yield (
        "too many ints",
        change_set(["a"], ["c"], kinds=[K.OP_KIND_COUNTER_ADD], ints=[0, 1, 2]),
        ("ints", "more entries"),
    )
    yield (
        "too few ints",
        change_set(["a"], ["c"], kinds=[K.OP_KIND_COUNTER_ADD], ints=[0]),
        ("column", "too early"),
    )
    yield (
        "missing hlc",
        change_set(["a"], ["f"], kinds=[K.OP_KIND_FIELD_DELETE], ints=[0]),
        ("column",),
    )
    yield (
        "negative hlc",
        change_set(["a"], ["f"], kinds=[K.OP_KIND_FIELD_DELETE], ints=[0], hlcs=[-5]),
        ("clock",),
    )
    yield (
        "set member that is a list",
        change_set(["a"], ["s"], kinds=[K.OP_KIND_SET_ADD], ints=[0], values="[[1]]"),
        ("scalar",),
    )
    yield (
        "absurd set remove tag count",
        change_set(["a"], ["s"], kinds=[K.OP_KIND_SET_REMOVE], ints=[0, 10**12], values="[1]"),
        ("tag count",),
    )
    yield (
        "negative set remove tag count",
        change_set(["a"], ["s"], kinds=[K.OP_KIND_SET_REMOVE], ints=[0, -1], values="[1]"),
        ("tag count",),
    )
    yield (
        "absurd skip count",
        change_set(["a"], [], kinds=[K.OP_KIND_SKIP], ints=[2**62]),
        ("skip count",),
    )
    yield (
        "zero skip count",
        change_set(["a"], [], kinds=[K.OP_KIND_SKIP], ints=[0]),
        ("skip count",),
    )
    yield (
        "invalid list position key",
        change_set(
            ["a"],
            ["l"],
            kinds=[K.OP_KIND_LIST_INSERT],
            ints=[0],
            hlcs=ok_hlc,
            values="[1]",
            strs=["not a key!"],
        ),
        ("position key",),
    )
    yield (
        "list move of an unknown item",
        change_set(
            ["a"], ["l"], kinds=[K.OP_KIND_LIST_MOVE], ints=[0, 0, 77], hlcs=ok_hlc, strs=["V"]
        ),
        ("unknown item",),
    )
    yield (
        "list delete of an item of an unknown client",
        change_set(["a", "ghost"], ["l"], kinds=[K.OP_KIND_LIST_DELETE], ints=[0, 1, 3]),
        ("unknown item", "ghost"),
    )
    yield (
        "list delete with a reference outside the client table",
        change_set(["a"], ["l"], kinds=[K.OP_KIND_LIST_DELETE], ints=[0, 9, 1]),
        ("client index 9",),
    )
    yield (
        "text insert after an unknown character",
        change_set(
            ["a"], ["t"], kinds=[K.OP_KIND_TEXT_INSERT], ints=[0, 1, 40, 0, 0, 2], text="hi"
        ),
        ("unknown character",),
    )
    yield (
        "empty text insert",
        change_set(["a"], ["t"], kinds=[K.OP_KIND_TEXT_INSERT], ints=[0, 0, 0, 0, 0, 0]),
        ("text insert length 0",),
    )
    yield (
        "text delete of an unknown character",
        change_set(["a"], ["t"], kinds=[K.OP_KIND_TEXT_DELETE], ints=[0, 0, 12, 3]),
        ("unknown character",),
    )
    yield (
        "absurd text delete count",
        change_set(["a"], ["t"], kinds=[K.OP_KIND_TEXT_DELETE], ints=[0, 0, 1, 2**62]),
        ("count",),
    )
    yield (
        "zero text delete count",
        change_set(["a"], ["t"], kinds=[K.OP_KIND_TEXT_DELETE], ints=[0, 0, 1, 0]),
        ("count",),
    )


HOSTILE = list(hostile_changes())


@pytest.mark.parametrize(
    ("data", "words"), [(d, w) for _, d, w in HOSTILE], ids=[c for c, _, _ in HOSTILE]
)
def test_hostile_changes_are_rejected_and_change_nothing(data: bytes, words: tuple[str]) -> None:
    doc = target_doc()
    assert_rejected(doc, lambda: doc.apply(data), *words)
    # A fresh document is left fresh too (no client ids or names half-interned).
    fresh = Document("fresh")
    assert_rejected(fresh, lambda: fresh.apply(data), *words)
    assert fresh.changes() == Document("fresh").changes()
    assert_healthy(doc)


def test_a_bad_change_among_good_ones_rejects_the_whole_message() -> None:
    good = parsed(writer_doc().changes())
    bad = parsed(HOSTILE[[c for c, _, _ in HOSTILE].index("list move of an unknown item")][1])
    # Append the bad change, remapping its tables onto the good message's.
    ch = bad.changes[0]
    good.clients.append("intruder")
    ch.client = len(good.clients) - 1
    good.names.append("l2")
    ch.ints[0] = len(good.names) - 1
    ch.ints[1] = ch.client
    good.changes.append(ch)
    doc = target_doc()
    assert_rejected(doc, lambda: doc.apply(good.SerializeToString()), "unknown item")


@pytest.mark.parametrize("fmt", [0, 3, 99, 2**32 - 1])
def test_unknown_format_versions_are_rejected(fmt: int) -> None:
    data = parsed(writer_doc().changes())
    data.format = fmt
    doc = target_doc()
    if fmt == 0:
        assert_rejected(doc, lambda: doc.apply(data.SerializeToString()), "format")
    else:
        err = assert_rejected(
            doc,
            lambda: doc.apply(data.SerializeToString()),
            str(fmt),
            "format",
            error=UnsupportedFormatError,
        )
        assert isinstance(err, SyncKitError)


def test_every_truncation_of_changes_is_rejected_or_a_valid_prefix() -> None:
    full = writer_doc()
    data = full.changes()
    rejected = 0
    for k in range(len(data)):
        doc = target_doc()
        before = snapshot_of(doc)
        try:
            doc.apply(data[:k])
        except DecodeError:
            rejected += 1
            assert snapshot_of(doc) == before
            continue
        # What applied is a consistent part of the writer's history.
        assert full.version().dominates({c: s for c, s in doc.version().items() if c != "target"})
        assert_healthy(doc)
    assert rejected > len(data) // 2


def test_every_single_bit_flip_of_changes_is_rejected_or_valid() -> None:
    data = writer_doc().changes()
    outcomes = {"rejected": 0, "applied": 0}
    for i in range(len(data)):
        for bit in (0, 3, 7):
            mutated = bytearray(data)
            mutated[i] ^= 1 << bit
            doc = target_doc()
            before = snapshot_of(doc)
            try:
                doc.apply(bytes(mutated))
            except DecodeError:
                outcomes["rejected"] += 1
                assert snapshot_of(doc) == before
            else:
                outcomes["applied"] += 1
                assert_healthy(doc)
    assert outcomes["rejected"] > 0


# ---------------------------------------------------------------------------- apply: fuzz

valid_messages = st.sampled_from(["full", "delta", "with_deps"])


def sample_changes(which: str) -> bytes:
    w = writer_doc()
    if which == "full":
        return w.changes()
    if which == "delta":
        v = w.version()
        w.set("later", 1)
        w.get_text("t").insert(0, "ab")
        w.get_list("l").move(0, 1)
        return w.changes(v)
    return w.changes(VersionVector({"other": 2}))


mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "delete", "insert", "dup"]),
        st.integers(0, 10_000),
        st.integers(0, 255),
        st.integers(1, 8),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, plan: list[tuple[str, int, int, int]]) -> bytes:
    buf = bytearray(data)
    for how, pos, byte, length in plan:
        if not buf:
            buf.append(byte)
            continue
        i = pos % len(buf)
        if how == "flip":
            buf[i] ^= 1 << (byte % 8)
        elif how == "set":
            buf[i] = byte
        elif how == "delete":
            del buf[i : i + length]
        elif how == "insert":
            buf[i:i] = bytes([byte]) * length
        else:
            buf[i:i] = buf[i : i + length]
    return bytes(buf)


@FUZZ
@given(which=valid_messages, plan=mutations)
def test_fuzzed_change_bytes_raise_decode_error_or_apply_cleanly(
    which: str, plan: list[tuple[str, int, int, int]]
) -> None:
    data = mutate(sample_changes(which), plan)
    doc = target_doc()
    before = snapshot_of(doc)
    try:
        doc.apply(data)
    except DecodeError:
        assert snapshot_of(doc) == before
    else:
        assert_healthy(doc)


columns = st.sampled_from(["kinds", "ints", "hlcs", "strs", "values", "client", "start", "deps"])


@FUZZ
@given(
    which=valid_messages,
    edits=st.lists(
        st.tuples(
            columns, st.integers(0, 1000), st.integers(0, 1000), st.integers(-(2**40), 2**40)
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_fuzzed_change_fields_raise_decode_error_or_apply_cleanly(
    which: str, edits: list[tuple[str, int, int, int]]
) -> None:
    """Structurally valid protobuf with wrong numbers in it: the checks must catch them."""
    msg = parsed(sample_changes(which))
    for column, ci, pos, value in edits:
        ch = msg.changes[ci % len(msg.changes)]
        if column == "client":
            ch.client = abs(value) % (len(msg.clients) + 2)
        elif column == "start":
            ch.start = abs(value) % 64
        elif column == "deps":
            ch.dep_clients.append(abs(value) % (len(msg.clients) + 1))
            ch.dep_seqs.append(pos)
        elif column == "values":
            ch.values = ["[]", "[1]", "[NaN]", '["x",[1],{"a":null}]', "", ch.values[:pos]][pos % 6]
        elif column == "strs":
            if ch.strs:
                ch.strs[pos % len(ch.strs)] = ["", "z", "0", "é", "aa0", "!"][abs(value) % 6]
        else:
            col = getattr(ch, column)
            if column == "kinds":
                value = abs(value) % 13
            if col and pos % 3:
                col[pos % len(col)] = value
            else:
                col.append(value)
    doc = target_doc()
    before = snapshot_of(doc)
    try:
        doc.apply(msg.SerializeToString())
    except DecodeError:
        assert snapshot_of(doc) == before
    else:
        assert_healthy(doc)


def test_a_hostile_change_waiting_for_predecessors_does_not_wedge_the_document() -> None:
    """A change that waits for its predecessors cannot be checked yet.

    If it turns out to be hostile once they arrive, the predecessors (good changes from
    an honest peer) must still apply; the document must not be stuck forever.
    """
    honest = Document("x", clock=FakeClock(10, step=3))
    honest.set("a", 1)
    good = honest.changes()
    hostile = change_set(
        ["h", "x"], ["l"], kinds=[K.OP_KIND_LIST_DELETE], ints=[0, 1, 99], deps={1: 1}
    )
    doc = target_doc()
    doc.apply(hostile)  # waits: nothing to check it against yet
    for _ in range(2):
        with contextlib.suppress(DecodeError):
            doc.apply(good)
    assert doc.version()["x"] == 1
    assert doc.get("a") == 1
    assert_healthy(doc)


# ---------------------------------------------------------------------------- load


def test_hostile_snapshots_are_rejected() -> None:
    w = writer_doc()
    good = w.save()

    def snap() -> changes_pb2.Snapshot:
        s = changes_pb2.Snapshot()
        s.ParseFromString(good)
        s.ClearField("checksum")
        return s

    cases: list[tuple[str, bytes, tuple[str, ...]]] = [
        ("empty", b"", ("empty",)),
        ("garbage", b"\xff\x00\xff", ("snapshot",)),
    ]
    s = snap()
    s.version_clients[0] = 40
    cases.append(("version client outside table", s.SerializeToString(), ("version client",)))
    s = snap()
    del s.version_seqs[0]
    cases.append(("version columns differ", s.SerializeToString(), ("version",)))
    s = snap()
    s.version_seqs[list(s.clients).index("writer")] = 1
    cases.append(("ops beyond version", s.SerializeToString(), ("beyond",)))
    s = snap()
    s.checkpoints.extend([99, 1, 0])
    cases.append(("bad checkpoint", s.SerializeToString(), ("checkpoint",)))
    s = snap()
    s.checkpoints.extend([0, 1, 5])
    cases.append(("truncated checkpoint", s.SerializeToString(), ("snapshot",)))
    s = snap()
    s.texts[0].name = 500
    cases.append(("text name outside table", s.SerializeToString(), ("text name",)))
    s = snap()
    s.texts.append(s.texts[0])
    cases.append(("text twice", s.SerializeToString(), ("twice",)))
    s = snap()
    s.pending = b"\xff\xff"
    cases.append(("pending garbage", s.SerializeToString(), ("protobuf",)))
    s = snap()
    s.clients.append(s.clients[0])
    cases.append(("duplicate client", s.SerializeToString(), ("twice",)))
    pending_tables: list[tuple[str, list[str], str]] = [
        ("pending empty client id", ["", "x"], "empty client id"),
        ("pending client twice", ["x", "x"], "twice"),
    ]
    for case, table, word in pending_tables:
        s = snap()
        s.pending = change_set(
            table, ["l"], kinds=[K.OP_KIND_LIST_DELETE], ints=[0, 1, 99], deps={1: 1}
        )
        cases.append((case, s.SerializeToString(), (word,)))
    s = snap()
    s.changes[0].values = "[NaN]"
    cases.append(("NaN in a snapshot value", s.SerializeToString(), ("nan",)))
    s = snap()
    s.changes[0].values = "[1E+999]"
    cases.append(("overflowing number in a snapshot value", s.SerializeToString(), ("finite",)))
    s = snap()
    s.changes[0].kinds.append(42)
    s.changes[0].ints.append(0)
    cases.append(("unknown kind in snapshot", s.SerializeToString(), ("kind 42",)))
    # Deflated text (TextState.content_deflate): corrupt, truncated, a bomb, both forms, not
    # UTF-8, junk after the stream.
    text = snap().texts[0].content
    deflated = zlib.compress(text.encode())
    deflate_cases: list[tuple[str, bytes, str, tuple[str, ...]]] = [
        ("deflate garbage", b"\x78\x9c\xff\xff", "", ("corrupt",)),
        ("deflate truncated", deflated[:-3], "", ("truncated",)),
        ("deflate bomb", zlib.compress(b"x" * 10_000_000), "", ("longer than the version",)),
        ("deflate and plain", deflated, text, ("both",)),
        ("deflate not utf-8", zlib.compress(b"\xff\xfe"), "", ("utf-8",)),
        ("deflate junk after", deflated + b"junk", "", ("junk",)),
    ]
    for case, blob, plain, words in deflate_cases:
        s = snap()
        s.texts[0].content = plain
        s.texts[0].content_deflate = blob
        cases.append((case, s.SerializeToString(), words))
    for case, data, words in cases:
        if case not in ("empty", "garbage"):
            # A hostile writer can compute the checksum too: seal the bytes properly.
            data = sealed(data)
        with pytest.raises(DecodeError) as info:
            Document.load(data)
        for word in words:
            assert word.lower() in str(info.value).lower(), (case, str(info.value))
    s = snap()
    s.format = 3
    with pytest.raises(UnsupportedFormatError, match="3"):
        Document.load(s.SerializeToString())


def test_every_truncation_and_bit_flip_of_a_snapshot_is_rejected_or_loads_cleanly() -> None:
    data = writer_doc().save()
    variants = [data[:k] for k in range(len(data))]
    for i in range(len(data)):
        mutated = bytearray(data)
        mutated[i] ^= 0x10
        variants.append(bytes(mutated))
    rejected = 0
    for v in variants:
        try:
            doc = Document.load(v, client_id="loader")
        except DecodeError:
            rejected += 1
        else:
            assert_healthy(doc)
            doc.set("after", 1)  # and it can still be edited
    assert rejected > len(data)


@FUZZ
@given(plan=mutations)
def test_fuzzed_snapshots_raise_decode_error_or_load_cleanly(
    plan: list[tuple[str, int, int, int]],
) -> None:
    data = mutate(writer_doc().save(), plan)
    try:
        doc = Document.load(data)
    except DecodeError:
        return
    assert_healthy(doc)


def long_text_snapshot() -> changes_pb2.Snapshot:
    """A snapshot whose text is long enough to be saved DEFLATE-compressed."""
    doc = Document("long", clock=FakeClock(1_000, step=3))
    text = doc.get_text("t")
    text.insert(0, "Ωμέγα and ASCII, 日本語 too. " * 20)
    text.delete(7, 40)
    text.insert(100, "🙂")
    snap = changes_pb2.Snapshot.FromString(doc.save())
    assert snap.texts[0].content_deflate and not snap.texts[0].content
    snap.ClearField("checksum")
    return snap


@FUZZ
@given(plan=mutations)
def test_fuzzed_deflated_text_raises_decode_error_or_loads_cleanly(
    plan: list[tuple[str, int, int, int]],
) -> None:
    """Damage inside the compressed text, resealed with a valid checksum (a hostile writer)."""
    snap = long_text_snapshot()
    snap.texts[0].content_deflate = mutate(snap.texts[0].content_deflate, plan)
    data = sealed(snap.SerializeToString())
    try:
        doc = Document.load(data)
    except DecodeError:
        return
    assert_healthy(doc)


# ---------------------------------------------------------------------------- VersionVector


def test_version_vector_decode_rejects_bad_bytes() -> None:
    good = VersionVector({"a": 3, "b": 7}).encode()
    assert VersionVector.decode(good) == VersionVector({"a": 3, "b": 7})

    def vv(clients: list[str], seqs: list[int]) -> bytes:
        return changes_pb2.Version(clients=clients, seqs=seqs).SerializeToString()

    cases: list[tuple[bytes, str]] = [
        (b"\xff\xff\xff", "protobuf"),
        (good[:-1], "protobuf"),
        (vv(["a", "b"], [1]), "2 client ids but 1 seqs"),
        (vv(["a"], [1, 2]), "1 client ids but 2 seqs"),
        (vv([""], [1]), "empty client id"),
        (vv(["a", "a"], [1, 2]), "appears twice"),
        (vv(["a"], [2**64 - 1]), "out of range"),
    ]
    for data, words in cases:
        with pytest.raises(DecodeError, match=words):
            VersionVector.decode(data)
    for k in range(len(good)):
        try:
            got = VersionVector.decode(good[:k])
        except DecodeError:
            continue
        assert VersionVector({"a": 3, "b": 7}).dominates(got)


@FUZZ
@given(plan=mutations)
def test_fuzzed_version_vectors_raise_decode_error_or_decode(
    plan: list[tuple[str, int, int, int]],
) -> None:
    data = mutate(VersionVector({"alice": 3, "bob": 2**40, "ü": 1}).encode(), plan)
    try:
        got = VersionVector.decode(data)
    except DecodeError:
        return
    assert VersionVector.decode(got.encode()) == got


# ---------------------------------------------------------------------------- bad values


class NotJSON:
    pass


def too_deep(levels: int) -> object:
    value: object = []
    for _ in range(levels):
        value = [value]
    return value


NON_JSON: list[object] = [
    NotJSON(),
    {1: "int key"},
    {"a": {("tuple",): 1}},
    float("nan"),
    float("inf"),
    [1, float("-inf")],
    (1, 2),
    {1, 2},
    b"bytes",
    [1, [2, [NotJSON()]]],
    {"deep": too_deep(70)},
    1j,
]


@pytest.mark.parametrize("value", NON_JSON, ids=lambda v: type(v).__name__)
def test_non_json_values_raise_type_error_and_change_nothing(value: object) -> None:
    doc = target_doc()
    before = snapshot_of(doc)
    listeners: list[object] = []
    doc.subscribe(listeners.append)
    with pytest.raises(TypeError):
        doc.set("x", value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        doc.update({"ok": 1, "x": value})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        doc.get_list("l").insert(0, value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        doc.get_list("l").append(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        doc.get_set("s").add(value)  # type: ignore[arg-type]
    assert snapshot_of(doc) == before
    assert listeners == []


def test_non_scalar_set_members_and_bad_counter_deltas_raise_type_error() -> None:
    doc = target_doc()
    before = snapshot_of(doc)
    for member in ([1], {"a": 1}):
        with pytest.raises(TypeError):
            doc.get_set("s").add(member)  # type: ignore[arg-type]
    for delta in (1.5, "1", None):
        with pytest.raises(TypeError):
            doc.get_counter("c").increment(delta)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        doc.get_text("t").insert(0, 5)  # type: ignore[arg-type]
    assert snapshot_of(doc) == before


def test_out_of_range_positions_raise_index_error_and_change_nothing() -> None:
    doc = target_doc()
    before = snapshot_of(doc)
    with pytest.raises(IndexError):
        doc.get_text("t").insert(3, "x")
    with pytest.raises(IndexError):
        doc.get_text("t").delete(1, 2)
    with pytest.raises(IndexError):
        doc.get_list("l").insert(2, 1)
    with pytest.raises(IndexError):
        doc.get_list("l").move(0, 1)
    with pytest.raises(IndexError):
        doc.get_list("l").delete(-1)
    assert snapshot_of(doc) == before


@pytest.mark.parametrize(
    "where", ["field value", "dict key", "field name", "set member", "list value", "text"]
)
def test_strings_that_are_not_unicode_text_are_refused_or_survive_sync(where: str) -> None:
    """A lone surrogate is a Python str but cannot be encoded as UTF-8.

    Either the edit is refused with TypeError/ValueError and changes nothing, or the
    document still saves and syncs afterwards; it must never end up unable to do either.
    """
    bad = "a\ud800b"
    doc = target_doc()
    before = snapshot_of(doc)
    edits: dict[str, Callable[[], None]] = {
        "field value": lambda: doc.set("x", bad),
        "dict key": lambda: doc.set("x", {bad: 1}),
        "field name": lambda: doc.set(bad, 1),
        "set member": lambda: doc.get_set("s").add(bad),
        "list value": lambda: doc.get_list("l").append([bad]),
        "text": lambda: doc.get_text("t").insert(0, bad),
    }
    try:
        edits[where]()
    except (TypeError, ValueError):
        assert snapshot_of(doc) == before
        return
    assert_healthy(doc)


def test_an_insert_with_its_origins_reversed_converges_everywhere() -> None:
    """No correct replica sends one; every replica integrates it as if it had no right origin.

    It cannot be refused before anything is applied when an origin is created by the same
    message, so it is made harmless instead: the replicas that get it directly, the ones that
    get it relayed and the ones that edit concurrently all end up alike.
    """
    a = Document("a")
    a.get_text("t").insert(0, "abc")
    evil = Document("evil")
    evil.apply(a.changes())
    evil.get_text("t").insert(1, "X")
    evil.get_text("t").insert(1, "Y")  # its right origin is X, made by the same message
    hostile = changes_pb2.ChangeSet.FromString(evil.changes(a.version()))
    [change] = hostile.changes
    ints = list(change.ints)
    ints[1:5] = [2, 3, 2, 1]  # X: left origin a:3 ('c'), right origin a:1 ('a')
    ints[7:11] = [1, 1, 2, 1]  # Y: left origin evil:1 ('X'), right origin a:1 ('a')
    change.ints[:] = ints
    data = hostile.SerializeToString()
    b, c = Document("b"), Document("c")
    b.apply(a.changes())
    b.get_text("t").insert(3, "Q")  # concurrent with the hostile inserts
    a.apply(data)
    b.apply(data)
    a.apply(b.changes(a.version()))
    b.apply(a.changes(b.version()))
    c.apply(b.changes())  # relayed: c never sees the original bytes
    texts = {str(d.get_text("t")) for d in (a, b, c)}
    assert len(texts) == 1 and sorted(texts.pop()) == sorted("abcQXY")
    assert_healthy(a)


def collaborative_text_snapshot(seed: int) -> changes_pb2.Snapshot:
    """A snapshot of a text three replicas typed into and deleted from, syncing now and then."""
    rng = random.Random(seed)
    docs = [Document(f"c{i}", clock=FakeClock(1_000 * i, step=3)) for i in range(3)]
    for _ in range(rng.randint(5, 40)):
        doc = rng.choice(docs)
        text = doc.get_text("t")
        if len(text) and rng.random() < 0.35:
            pos = rng.randrange(len(text))
            text.delete(pos, rng.randint(1, min(5, len(text) - pos)))
        else:
            text.insert(rng.randint(0, len(text)), rng.choice(["a", "bc", "é🙂", "long " * 9]))
        if rng.random() < 0.3:
            a, b = rng.sample(docs, 2)
            b.apply(a.changes(b.version()))
    for a in docs:
        for b in docs:
            if a is not b:
                b.apply(a.changes(b.version()))
    snap = changes_pb2.Snapshot.FromString(docs[0].save())
    snap.ClearField("checksum")
    return snap


@FUZZ
@given(
    seed=st.integers(0, 49),
    column=st.sampled_from(["ints", "deletes"]),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["add", "set", "delete", "insert"]),
            st.integers(0, 10_000),
            st.sampled_from([-2, -1, 0, 1, 2, 2**31, -(2**40)]),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_fuzzed_text_state_columns_are_refused_or_load_a_consistent_document(
    seed: int, column: str, edits: list[tuple[str, int, int]]
) -> None:
    """Integer-level damage to a text's columns, resealed (a hostile writer).

    Either load refuses it, or the document it makes is consistent with itself: it saves and
    loads again, and every operation it sends is accepted, by a fresh replica too, with
    nothing left waiting. (Whether the snapshot's claims -- which text a character holds,
    the order of concurrent inserts -- are what its history made cannot be checked without
    that history; docs/format.md says so.)
    """
    snap = collaborative_text_snapshot(seed)
    values = list(getattr(snap.texts[0], column))
    for how, at, value in edits:
        if not values:
            break
        i = at % len(values)
        if how == "add":
            values[i] += value
        elif how == "set":
            values[i] = value
        elif how == "delete":
            del values[i]
        else:
            values.insert(i, value)
    getattr(snap.texts[0], column)[:] = values
    data = sealed(snap.SerializeToString())
    try:
        doc = Document.load(data, client_id="loader")
    except DecodeError:
        return
    again = Document.load(doc.save())
    assert again.to_json() == doc.to_json() and again.version() == doc.version()
    text = doc.get_text("t")
    if len(text):
        text.delete(0, 1)
    text.insert(len(text) // 2, "Z")
    fresh = Document("fresh")
    fresh.apply(doc.changes())
    assert fresh.version() == doc.version()
    fresh.get_text("t").insert(0, "F")
    doc.apply(fresh.changes(doc.version()))
    assert doc.version() == fresh.version()


def test_a_snapshot_op_in_a_container_its_author_had_not_seen_is_refused() -> None:
    """Found by fuzzing (``fuzz/corpus/snapshot/resealed-nested-container-unseen``): a resealed
    snapshot whose log holds an operation in a nested container made after it (a map epoch
    its author had not seen) loaded, and every other replica then refused its changes. Load
    checks each nested operation's path as ``apply`` does."""
    hostile = (
        Path(__file__).resolve().parents[2]
        / "fuzz"
        / "corpus"
        / "snapshot"
        / "resealed-nested-container-unseen"
    ).read_bytes()
    with pytest.raises(DecodeError, match="container made after it"):
        Document.load(hostile)


_HOSTILE_RUNS = """
import resource, sys, zlib
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB: no gigabyte lists
from synckit import Document
from synckit.errors import DecodeError
from synckit.v1 import changes_pb2
d = Document("w")
d.get_text("t").insert(0, "ab")
d.get_text("t").delete(0, 1)
snap = changes_pb2.Snapshot.FromString(d.save())
snap.ClearField("checksum")
n = 10**9
if sys.argv[1] == "items":
    snap.texts[0].ints[:] = [2, n, 1, 0, n]  # n items, all in one run of n
else:
    snap.texts[0].deletes[:] = [0, n, 1, 0, n]  # a delete log of n runs, one target run of n
body = snap.SerializeToString()
try:
    Document.load(body + bytes([11 << 3 | 5]) + zlib.crc32(body).to_bytes(4, "little"))
except DecodeError as exc:
    print(exc)
"""


@pytest.mark.parametrize("column", ["items", "deletes"])
def test_a_hostile_run_length_in_a_text_state_allocates_nothing(column: str) -> None:
    """Found in the fuzzing work (issue 14: a hostile length prefix must not allocate
    gigabytes): a text state's run-length column was expanded to the count it declared (a
    billion items in a few bytes) before the columns that must follow were checked, so a
    snapshot of a hundred bytes made ``Document.load`` allocate gigabytes. Run in a child
    process whose address space is capped at 1 GiB."""
    done = subprocess.run(
        [sys.executable, "-c", _HOSTILE_RUNS, column],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "text state: truncated" in done.stdout


def test_a_reference_outside_the_changes_dependencies_is_refused_by_every_replica() -> None:
    """A change may only refer to what its author had seen: its own earlier operations, or
    others' within its dependencies. Otherwise a replica already holding the item would take
    it and one that does not yet would refuse it, and the two would part ways."""
    owner = Document("owner", clock=FakeClock(10, step=3))
    owner.get_list("l").append("x")  # owner:1
    owner.get_set("s").add(1)  # owner:2
    owner.get_text("t").insert(0, "ab")  # owner:3, owner:4
    holder, stranger = Document("holder"), Document("stranger")
    holder.apply(owner.changes())
    # The same operations, each claiming to depend on nothing: none of them saw owner's ops.
    cases: list[tuple[str, list[int], list[int], str, str, str]] = [
        ("list", [K.OP_KIND_LIST_DELETE], [0, 1, 1], "", "", "list operation"),
        ("set", [K.OP_KIND_SET_REMOVE], [0, 1, 1, 2], "[1]", "", "set remove"),
        ("text", [K.OP_KIND_TEXT_INSERT], [0, 2, 3, 2, 4, 1], "", "z", "text insert"),
        ("text", [K.OP_KIND_TEXT_DELETE], [0, 1, 3, 1], "", "", "text delete"),
    ]
    for name, kinds, ints, values, text, words in cases:
        data = change_set(
            ["evil", "owner"],
            [{"list": "l", "set": "s", "text": "t"}[name]],
            kinds=kinds,
            ints=ints,
            values=values,
            text=text,
        )
        # (A set remove names tags, not items that must exist: both say why the same way.)
        unheld = "had not seen" if name == "set" else "unknown"
        for doc, why in ((holder, "had not seen"), (stranger, unheld)):
            before = snapshot_of(doc)
            with pytest.raises(DecodeError) as info:
                doc.apply(data)
            assert words in str(info.value) and why in str(info.value)
            assert snapshot_of(doc) == before


def test_a_snapshot_whose_checkpoints_form_a_cycle_is_refused() -> None:
    """Each of two clients claims to have seen the other's later operation: no replica could
    ever apply either, so the snapshot is refused."""
    a, b = Document("a", clock=FakeClock(10, step=3)), Document("b", clock=FakeClock(20, step=3))
    a.set("x", 1)
    b.apply(a.changes())
    b.set("y", 1)  # b:1 depends on a:1
    a.apply(b.changes(a.version()))
    a.set("z", 1)  # a:2 depends on b:1
    snap = changes_pb2.Snapshot.FromString(a.save())
    flat = list(snap.checkpoints)  # (client, start, n, n x (client, seq)) each
    clients = list(snap.clients)
    i = 0
    while i < len(flat):
        c, k = flat[i], flat[i + 2]
        if clients[c] == "b" and k:
            flat[i + 4] = 2  # b:1 now claims to depend on a:2, which depends on b:1
        i += 3 + 2 * k
    snap.checkpoints[:] = flat
    snap.ClearField("checksum")
    data = sealed(snap.SerializeToString())
    with pytest.raises(DecodeError, match="cycle"):
        Document.load(data)


def mixed_snapshot(seed: int) -> changes_pb2.Snapshot:
    """A snapshot of three replicas' fields, counter, set and list edits, synced now and then."""
    rng = random.Random(seed)
    docs = [Document(f"c{i}", clock=FakeClock(1_000 * i, step=3)) for i in range(3)]
    for _ in range(rng.randint(5, 40)):
        doc = rng.choice(docs)
        roll = rng.random()
        if roll < 0.25:
            doc.set(f"f{rng.randrange(4)}", rng.choice([1, "x", [1, 2], {"a": None}]))
        elif roll < 0.4:
            doc.get_counter("n").increment(rng.randint(-3, 5))
        elif roll < 0.6:
            members = doc.get_set("s")
            if rng.random() < 0.6:
                members.add(rng.randrange(5))
            else:
                members.discard(rng.randrange(5))
        else:
            items = doc.get_list("l")
            if len(items) > 1 and rng.random() < 0.3:
                items.move(rng.randrange(len(items)), rng.randrange(len(items)))
            elif len(items) and rng.random() < 0.3:
                items.delete(rng.randrange(len(items)))
            else:
                items.insert(rng.randint(0, len(items)), rng.randrange(9))
        if rng.random() < 0.3:
            a, b = rng.sample(docs, 2)
            b.apply(a.changes(b.version()))
    snap = changes_pb2.Snapshot.FromString(docs[0].save())
    snap.ClearField("checksum")
    return snap


@FUZZ
@given(
    seed=st.integers(0, 49),
    where=st.sampled_from(["checkpoints", "version_seqs", "ints", "kinds", "hlcs", "start"]),
    pick=st.integers(0, 10_000),
    delta=st.sampled_from([-2, -1, 1, 2, 100]),
)
def test_fuzzed_snapshot_fields_are_refused_or_load_a_healthy_document(
    seed: int, where: str, pick: int, delta: int
) -> None:
    """Numbers changed inside a resealed snapshot (a hostile writer): refused, or a document
    whose every change other replicas accept and rebuild to the same state."""
    snap = mixed_snapshot(seed)
    if where in ("checkpoints", "version_seqs"):
        column = getattr(snap, where)
    elif snap.changes:
        change = snap.changes[pick % len(snap.changes)]
        if where == "start":
            change.start = max(1, change.start + delta)
            column = None
        else:
            column = getattr(change, where)
    else:
        return
    if column is not None:
        if not column:
            return
        i = pick % len(column)
        column[i] = max(0, column[i] + delta)
    data = sealed(snap.SerializeToString())
    try:
        doc = Document.load(data)
    except DecodeError:
        return
    assert_healthy(doc)


def honest_messages(seed: int) -> list[bytes]:
    """The change messages three replicas exchanged while editing every kind of container."""
    rng = random.Random(seed)
    docs = [Document(f"c{i}", clock=FakeClock(1_000 * i, step=3)) for i in range(3)]
    messages: list[bytes] = []
    for _ in range(rng.randint(4, 25)):
        i = rng.randrange(3)
        doc = docs[i]
        roll = rng.random()
        if roll < 0.2:
            doc.set(f"f{rng.randrange(3)}", rng.randrange(9))
        elif roll < 0.35:
            doc.get_counter("n").increment(1)
        elif roll < 0.5:
            doc.get_set("s").add(rng.randrange(4))
        elif roll < 0.75:
            items = doc.get_list("l")
            if len(items) > 1 and rng.random() < 0.4:
                items.move(rng.randrange(len(items)), rng.randrange(len(items)))
            else:
                items.insert(rng.randint(0, len(items)), rng.randrange(9))
        else:
            text = doc.get_text("t")
            if len(text) and rng.random() < 0.3:
                text.delete(rng.randrange(len(text)), 1)
            else:
                text.insert(rng.randint(0, len(text)), rng.choice("abc"))
        j = rng.randrange(3)
        if j != i and rng.random() < 0.5:
            message = doc.changes(docs[j].version())
            docs[j].apply(message)
            messages.append(message)
    return messages + [doc.changes() for doc in docs]


@FUZZ
@given(
    seed=st.integers(0, 99),
    pick=st.integers(0, 10_000),
    column=st.sampled_from(["ints", "dep_seqs", "dep_clients", "kinds", "hlcs", "start"]),
    delta=st.sampled_from([-2, -1, 1, 2]),
    orders=st.tuples(st.randoms(use_true_random=False), st.randoms(use_true_random=False)),
)
def test_replicas_agree_on_a_hostile_change_whatever_the_order(
    seed: int, pick: int, column: str, delta: int, orders: tuple[random.Random, random.Random]
) -> None:
    """One honest change, altered and sent as a client of its own, among the honest messages:
    two replicas that get every message once, in different orders, end up identical, whether
    they took the altered change, refused it or keep it waiting."""
    messages = honest_messages(seed)
    hostile = changes_pb2.ChangeSet.FromString(messages[pick % len(messages)])
    if not hostile.changes:
        return
    change = hostile.changes[pick % len(hostile.changes)]
    if column == "start":
        change.start = max(1, change.start + delta)
    else:
        values = getattr(change, column)
        if not values:
            return
        values[pick % len(values)] = max(0, values[pick % len(values)] + delta)
    hostile.clients.append("evil")  # its own client: no id shared with an honest operation
    change.client = len(hostile.clients) - 1
    replicas = []
    for order in orders:
        doc = Document("replica")
        sequence = [*messages, hostile.SerializeToString()]
        order.shuffle(sequence)
        for message in sequence:
            with contextlib.suppress(DecodeError):
                doc.apply(message)
        replicas.append(doc)
    a, b = replicas
    assert a.version() == b.version()
    assert a.to_json() == b.to_json()


def test_typing_on_with_fewer_dependencies_is_refused_with_or_without_the_fast_path() -> None:
    """A remote insert that continues the author's last integrated insert skips the origin
    lookups. Its right origin must still be within the change's own dependencies: a later
    change that drops them is refused whether the replica takes that path or not."""
    owner = Document("owner", clock=FakeClock(10, step=3))
    owner.get_text("t").insert(0, "ab")  # owner:1, owner:2
    evil = Document("evil", clock=FakeClock(20, step=3))
    evil.apply(owner.changes())
    evil.get_text("t").insert(1, "X")  # evil:1, right origin owner:2, deps {owner: 2}
    first = evil.changes(VersionVector({"owner": 2}))
    v = evil.version()
    evil.get_text("t").insert(2, "Y")  # evil:2, typing on, same right origin
    msg = parsed(evil.changes(v))
    del msg.changes[0].dep_clients[:]
    del msg.changes[0].dep_seqs[:]
    stripped = msg.SerializeToString()
    fast, slow = Document("fast"), Document("slow")
    for doc in (fast, slow):
        doc.apply(owner.changes())
        doc.apply(first)
    ids = fast._client_index
    assert fast._texts["t"].continues_remote(ids["evil"], 2, (ids["evil"], 1), (ids["owner"], 2))
    slow.get_text("t").insert(0, "s")  # a local edit: the next remote insert looks up
    for doc in (fast, slow):
        before = snapshot_of(doc)
        with pytest.raises(DecodeError, match="had not seen"):
            doc.apply(stripped)
        assert snapshot_of(doc) == before


# ---------------------------------------------------------------------------- cursors: fuzz


def _cursor_doc() -> Document:
    doc = Document("a")
    doc.get_text("t").insert(0, "héllo wörld")
    doc.get_text("t").delete(2, 3)
    return doc


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.tuples(st.integers(0, 8), st.integers(0, 40), st.integers(0, 255)).map(
            lambda m: _mutated_cursor(*m)
        ),
    )
)
def test_any_cursor_bytes_decode_to_a_cursor_or_a_decode_error(data: bytes) -> None:
    """Bytes from anywhere either decode to a cursor, which resolves to a position in
    the text or to None, or raise DecodeError naming the problem; nothing else."""
    try:
        cursor = Cursor.decode(data)
    except DecodeError as exc:
        assert str(exc).startswith("cursor: ")
        return
    doc = _cursor_doc()
    text = doc.get_text(cursor.text) if cursor.text in ("t", "u") else None
    if text is None:
        with pytest.raises(ValueError, match="belongs to text"):
            doc.get_text("t").position(cursor)
        return
    got = text.position(cursor)
    assert got is None or 0 <= got <= len(text)


def _mutated_cursor(which: int, at: int, value: int) -> bytes:
    """A valid cursor's bytes with one byte set to ``value``."""
    doc = _cursor_doc()
    cursor = doc.get_text("t").cursor(which, "previous" if which % 2 else "next")
    data = bytearray(cursor.encode())
    data[at % len(data)] = value
    return bytes(data)


@pytest.mark.parametrize(
    "values",
    ['["\\ud800"]', '["ok \\uDFFF"]', '[{"\\udc00": 1}]', '[["a", {"b": ["\\ud83d"]}]]'],
)
def test_a_value_spelling_a_lone_surrogate_is_refused(values: str) -> None:
    """JSON escapes can spell a lone surrogate that UTF-8 cannot: a replica that took one
    could never encode its changes or snapshot again (found by the TypeScript port's
    differential tests). Refused, and the document untouched; an escaped pair is fine."""
    w = Document("w", clock=FakeClock(1_000))
    w.set("x", "placeholder")
    msg = changes_pb2.ChangeSet()
    msg.ParseFromString(w.changes())
    msg.changes[0].values = values
    doc = writer_doc()
    before, saved = doc.to_json(), doc.save()
    with pytest.raises(DecodeError, match="lone surrogate"):
        doc.apply(msg.SerializeToString())
    assert doc.to_json() == before and doc.save() == saved
    msg.changes[0].values = '["\\ud83d\\ude42 \\u00e9"]'
    doc.apply(msg.SerializeToString())
    assert doc.get("x") == "\U0001f642 é"
    assert Document.load(doc.save()).get("x") == "\U0001f642 é"
