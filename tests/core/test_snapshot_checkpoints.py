"""Loading a snapshot's dependency checkpoints (``_snapshot._load_checkpoints``): one
shared iterator builds them, bulk passes check them; clients in any order load the same
document, and a checkpoint that is cut short or names a client twice is refused."""

from __future__ import annotations

import random
import zlib

import pytest

from synckit import DecodeError, Document, SnapshotKey
from synckit.v1 import changes_pb2

KEY = SnapshotKey(b"c" * 32)


def sealed(body: bytes) -> bytes:
    return body + bytes([11 << 3 | 5]) + zlib.crc32(body).to_bytes(4, "little")


def _document(seed: int) -> Document:
    rng = random.Random(seed)
    docs = [Document(f"a{i}") for i in range(4)]
    for step in range(60):
        doc = rng.choice(docs)
        text = doc.get_text("t")
        text.insert(rng.randrange(len(text) + 1), "xy")
        doc.set(f"f{rng.randrange(3)}", step)
        if step % 3 == 2:
            a, b = rng.sample(docs, 2)
            b.apply(a.changes(b.version()))
    return docs[0]


def _checkpoints(snap: changes_pb2.Snapshot) -> list[list[int]]:
    flat = list(snap.checkpoints)
    out: list[list[int]] = []
    i = 0
    while i < len(flat):
        end = i + 3 + 2 * flat[i + 2]
        out.append(flat[i:end])
        i = end
    return out


def _with(snap: changes_pb2.Snapshot, cps: list[list[int]] | list[int]) -> bytes:
    s = changes_pb2.Snapshot()
    s.CopyFrom(snap)
    flat = [x for cp in cps for x in cp] if cps and isinstance(cps[0], list) else cps
    s.checkpoints[:] = flat  # type: ignore[assignment]
    s.ClearField("checksum")
    return sealed(s.SerializeToString())


def _view(doc: Document) -> tuple[object, ...]:
    return doc.version(), doc.changes(), doc.to_json(), str(doc.get_text("t"))


@pytest.mark.parametrize("seed", range(4))
def test_clients_in_any_order_load_the_same_document(seed: int) -> None:
    data = _document(seed).save()
    snap = changes_pb2.Snapshot.FromString(data)
    cps = _checkpoints(snap)
    assert len({cp[0] for cp in cps}) > 1
    want = _view(Document.load(data, "r"))
    # Round-robin over the clients, each client's own in their order.
    by_client: dict[int, list[list[int]]] = {}
    for cp in cps:
        by_client.setdefault(cp[0], []).append(cp)
    mixed: list[list[int]] = []
    while any(by_client.values()):
        for group in by_client.values():
            if group:
                mixed.append(group.pop(0))
    assert mixed != cps
    other = _with(snap, mixed)
    assert _view(Document.load(other, "r")) == want
    assert _view(Document.load(other, "r", key=KEY, tag=KEY.tag(other))) == want


def _a_checkpoint_with_deps(cps: list[list[int]]) -> int:
    return next(i for i, cp in enumerate(cps) if cp[2] >= 1)


def test_a_checkpoint_naming_a_client_twice_is_refused() -> None:
    snap = changes_pb2.Snapshot.FromString(_document(1).save())
    cps = _checkpoints(snap)
    i = _a_checkpoint_with_deps(cps)
    cp = cps[i]
    cps[i] = [cp[0], cp[1], cp[2] + 1, *cp[3:], cp[3], cp[4]]
    data = _with(snap, cps)
    with pytest.raises(DecodeError, match="invalid dependency checkpoint"):
        Document.load(data)
    with pytest.raises(DecodeError, match="invalid dependency checkpoint"):
        Document.load(data, key=KEY, tag=KEY.tag(data))


@pytest.mark.parametrize("cut", [1, 2, 3, 4])
def test_a_checkpoint_cut_short_or_with_ints_left_over_is_refused(cut: int) -> None:
    snap = changes_pb2.Snapshot.FromString(_document(2).save())
    flat = list(snap.checkpoints)
    for bad in (flat[:-cut], [*flat, *[0, 1, 5, 1][:cut]]):
        data = _with(snap, bad)
        with pytest.raises(DecodeError, match="checkpoint"):
            Document.load(data)
        with pytest.raises(DecodeError, match="checkpoint"):
            Document.load(data, key=KEY, tag=KEY.tag(data))


def test_a_dependency_beyond_the_version_or_on_an_unknown_client_is_refused() -> None:
    snap = changes_pb2.Snapshot.FromString(_document(3).save())
    cps = _checkpoints(snap)
    i = _a_checkpoint_with_deps(cps)
    for k, value in ((3, len(snap.clients) + 2), (4, 10**6)):
        bad = [list(cp) for cp in cps]
        bad[i][k] = value
        with pytest.raises(DecodeError, match="beyond the snapshot's version"):
            Document.load(_with(snap, bad))
