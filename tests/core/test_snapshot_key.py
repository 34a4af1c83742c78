"""SnapshotKey: a tagged snapshot loads (with fewer checks) into the same document; any other
tag, key or byte runs every check, so hostile bytes are refused exactly as without a key."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest

from synckit import DecodeError, Document, SnapshotKey
from synckit.errors import InvalidTypeError, InvalidValueError, SyncKitError

KEY = SnapshotKey(b"k" * 32)
OTHER = SnapshotKey(b"o" * 32)
CORPUS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus" / "snapshot"


def _multi_author(authors: int, steps: int, seed: int) -> Document:
    """Authors typing and backspacing into their own replicas, merged through a hub, with
    fields, a list, a nested map and a counter along the way."""
    rng = random.Random(seed)
    hub = Document("hub")
    docs = [Document(f"a{a}") for a in range(authors)]
    for i in range(steps):
        a = rng.randrange(authors)
        doc = docs[a]
        text = doc.get_text("t")
        n = len(text)
        if n and rng.random() < 0.25:
            pos = rng.randrange(n)
            text.delete(pos, min(rng.randint(1, 4), n - pos))
        else:
            text.insert(rng.randrange(n + 1), "".join(rng.choices("abc xyz", k=rng.randint(1, 5))))
        if i % 7 == 0:
            doc.set(f"f{rng.randrange(5)}", rng.randrange(100))
        if i % 11 == 0:
            lst = doc.get_list("l")
            lst.insert(rng.randrange(len(lst) + 1), i)
            if len(lst) > 3 and rng.random() < 0.3:
                lst.delete(rng.randrange(len(lst)))
        if i % 13 == 0:
            doc.get_map("m").set("k", f"v{i}")
        if i % 5 == 4:
            for d in docs:
                hub.apply(d.changes(hub.version()))
            for d in docs:
                d.apply(hub.changes(d.version()))
    for d in docs:
        hub.apply(d.changes(hub.version()))
    return hub


DOCS = [
    lambda: Document("empty"),
    lambda: _multi_author(1, 300, 1),
    lambda: _multi_author(4, 400, 2),
    lambda: _multi_author(9, 500, 3),
]


def _view(doc: Document) -> tuple[object, ...]:
    return (
        doc.version(),
        doc.to_json() if hasattr(doc, "to_json") else None,
        {name: str(doc.get_text(name)) for name in ("t",)},
        doc.save(),
    )


@pytest.mark.parametrize("make", DOCS)
def test_tagged_load_gives_the_same_document(make: object) -> None:
    doc = make()  # type: ignore[operator]
    data = doc.save()
    checked = Document.load(data, "reader")
    tagged = Document.load(data, "reader", key=KEY, tag=KEY.tag(data))
    assert _view(tagged) == _view(checked)
    # And it keeps working: an edit on it reaches a checked replica.
    tagged.get_text("t").insert(0, "new ")
    checked.apply(tagged.changes(checked.version()))
    assert str(checked.get_text("t")) == str(tagged.get_text("t"))


def test_tag_verifies_only_the_same_bytes_and_key() -> None:
    data = _multi_author(3, 100, 4).save()
    tag = KEY.tag(data)
    assert len(tag) == 32
    assert KEY.verify(data, tag)
    assert not OTHER.verify(data, tag)
    assert not KEY.verify(data + b"\x00", tag)
    assert not KEY.verify(data, tag[:-1])
    assert not KEY.verify(data, bytes(32))


def _outcome(data: bytes, **kw: object) -> object:
    """The loaded document's bytes, or the error's type and message."""
    try:
        doc = Document.load(data, "reader", **kw)  # type: ignore[arg-type]
    except SyncKitError as exc:
        return (type(exc), str(exc))
    return doc.save()


def test_hostile_bytes_with_a_tag_that_does_not_verify_get_every_check() -> None:
    files = sorted(CORPUS.iterdir())
    assert files
    for path in files:  # the fuzz corpus's snapshots: hostile, corrupt, and good ones
        data = path.read_bytes()
        want = _outcome(data)
        other = _outcome(data, key=KEY, tag=OTHER.tag(data))
        untagged = _outcome(data, key=KEY)
        assert other == want, path.name
        assert untagged == want, path.name


def _reseal(body: bytes) -> bytes:
    return body + b"\x5d" + zlib.crc32(body).to_bytes(4, "little")


def test_tampered_bytes_under_the_old_tag_are_checked_and_refused() -> None:
    a = Document("a")
    text = a.get_text("t")
    text.insert(0, "hello")
    text.insert(5, " world")
    text.delete(0, 1)
    data = a.save()
    tag = KEY.tag(data)
    # A hostile edit that only the full checks catch: the version lowered from 12 to 11
    # (the delete now lies beyond it), resealed with a good checksum.
    assert b"*\x01\x0c" in data  # version_seqs: a at 12
    tampered = _reseal(data[:-5].replace(b"*\x01\x0c", b"*\x01\x0b", 1))
    assert Document.load(tampered, key=KEY, tag=KEY.tag(tampered))  # what the fast path skips
    with pytest.raises(DecodeError):
        Document.load(tampered)
    with pytest.raises(DecodeError):
        Document.load(tampered, key=KEY, tag=tag)
    # Unsealed corruption under the old tag: the checksum still catches it.
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    with pytest.raises(DecodeError):
        Document.load(bytes(flipped), key=KEY, tag=tag)


def test_bad_keys_and_tags_are_clear_errors() -> None:
    data = Document("x").save()
    with pytest.raises(InvalidValueError):
        SnapshotKey(b"short")
    with pytest.raises(InvalidTypeError):
        SnapshotKey("a string secret of many chars")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError):
        Document.load(data, tag=KEY.tag(data))
    with pytest.raises(InvalidTypeError):
        Document.load(data, key=b"k" * 32, tag=KEY.tag(data))  # type: ignore[arg-type]
    assert "k" * 8 not in repr(KEY)
