"""``Document.load`` refuses what ``apply`` would refuse: a snapshot that loads must send
changes every other replica accepts, or replicas part ways.

Each case here was found by fuzzing resealed snapshots (``fuzz/corpus/snapshot/resealed-*``)
and is built again by hand:

* A text's operations are not in a snapshot's log but in its text state, so the check load
  makes of each nested operation's path (every list item on the way held and seen by the
  operation's author) must also run over the text's items and deletes
  (``resealed-nested-text-unknown-list-item``).
* A map's creation of a container at a key names the write it replaces, which its author
  must have seen (``resealed-map-create-replaces-unseen``).
* A client's changes come in seq order, field writes included: the document keeps each
  client's field writes in seq order, and ``changes`` relies on it
  (``resealed-field-writes-out-of-order``).
* Every character of a text item shares its right origin, so where a checkpoint inside the
  item changes its author's dependencies (and ``changes`` cuts the item), the right origin
  must still be among them (``resealed-text-right-origin-out-of-deps``).
"""

from __future__ import annotations

import json
import zlib

import pytest
from fakeclock import FakeClock

from synckit import Document
from synckit.core import _ops as K
from synckit.core._codec import ChangeSetWriter
from synckit.core._snapshot import _firsts_per_checkpoint
from synckit.errors import DecodeError
from synckit.v1 import changes_pb2


def sealed(body: bytes) -> bytes:
    """Snapshot bytes with their checksum, as a hostile writer can compute it too."""
    return body + bytes([11 << 3 | 5]) + zlib.crc32(body).to_bytes(4, "little")


def with_text_moved_to(item_seq: int) -> bytes:
    """alice's list ``cards``: a text (its item alice:1, typed as alice:2-3) and a string
    (alice:4); the snapshot, its text's path rewritten to name item alice:``item_seq``."""
    doc = Document("alice", clock=FakeClock(100, step=3))
    cards = doc.get_list("cards")
    cards.insert_text(0).insert(0, "hi")
    cards.append("x")
    snap = changes_pb2.Snapshot.FromString(doc.save())
    assert list(snap.names) == ["cards", "\x00[0,0,1]"]  # [parent, item client, item seq]
    assert [ts.name for ts in snap.texts] == [1]  # only the text is in that container
    snap.names[1] = "\x00" + json.dumps([0, 0, item_seq], separators=(",", ":"))
    snap.ClearField("checksum")
    return sealed(snap.SerializeToString())


def test_the_unaltered_snapshot_loads_and_syncs() -> None:
    """The rewrite below is the only thing that makes the snapshot bad."""
    doc = Document.load(with_text_moved_to(1))
    assert doc.to_json() == {"cards": ["hi", "x"]}
    fresh = Document("fresh")
    fresh.apply(doc.changes())
    assert fresh.to_json() == doc.to_json()


@pytest.mark.parametrize(
    ("item_seq", "why"),
    [
        # alice:2 is a character of the text, not an item of the list: no replica's list
        # holds it, so a replica applying the text's operations refuses them.
        (2, "unknown list item"),
        # alice:4 is an item of the list, but made after the text's operations (alice:2-3).
        (4, "container made after it"),
    ],
)
def test_a_nested_text_on_a_path_apply_refuses_is_refused(item_seq: int, why: str) -> None:
    data = with_text_moved_to(item_seq)
    with pytest.raises(DecodeError, match=why):
        Document.load(data)


def test_nested_texts_edited_across_syncs_and_in_deleted_items_load_and_sync() -> None:
    """No false refusal: two clients type and delete in nested texts over many checkpoints,
    one text in a list item deleted since (its container stays addressable), one in a map in
    a list; the snapshot loads, and a fresh replica accepts every change it sends."""
    alice = Document("alice", clock=FakeClock(100, step=3))
    bob = Document("bob", clock=FakeClock(200, step=3))
    cards = alice.get_list("cards")
    cards.insert_text(0).insert(0, "first")
    cards.insert_map(1).get_text("notes").insert(0, "note")
    for round_ in range(4):
        bob.apply(alice.changes(bob.version()))
        b_cards = bob.get_list("cards")
        b_cards.get_text(0).insert(0, f"b{round_}")
        b_notes = b_cards.get_map(1).get_text("notes")
        b_notes.delete(0, 1)
        b_notes.insert(0, "B")
        alice.apply(bob.changes(alice.version()))
        first = cards.get_text(0)
        first.insert(len(first), f"a{round_}")
        first.delete(1, 1)
    bob.apply(alice.changes(bob.version()))
    cards.delete(0)  # the first text's item is now a tombstone ...
    bob.get_list("cards").get_text(0).insert(0, "late")  # ... which bob types in, unaware
    alice.apply(bob.changes(alice.version()))
    doc = Document.load(alice.save())
    assert doc.to_json() == alice.to_json()
    fresh = Document("fresh")
    fresh.apply(doc.changes())
    assert fresh.version() == doc.version()
    assert fresh.to_json() == doc.to_json()


def test_firsts_per_checkpoint_are_the_lowest_seq_of_each_stretch() -> None:
    """The seqs ``apply`` checks a path with: the first of each change ``changes`` cuts."""
    cps = [5, 10, 20]  # the first seqs of the client's checkpoints
    assert _firsts_per_checkpoint([(7, 8), (2, 3), (6, 6)], cps) == [2, 6]
    # A run spanning checkpoints 10 and 20 starts a change at each.
    assert _firsts_per_checkpoint([(8, 25), (30, 30)], cps) == [8, 10, 20]
    assert _firsts_per_checkpoint([(11, 12)], cps) == [11]
    assert _firsts_per_checkpoint([(1, 1), (40, 41)], []) == [1]


@pytest.mark.parametrize(("epoch_seq", "loads"), [(2, True), (4, False)])
def test_a_map_creation_replacing_a_write_its_author_had_not_seen_is_refused(
    epoch_seq: int, loads: bool
) -> None:
    """alice sets ``m.k`` (alice:1), deletes it (alice:2), makes a map there (alice:3, which
    replaces alice:2) and sets ``m.later`` (alice:4). A snapshot claiming that the creation
    replaced alice:4, a write made after it, is refused: ``apply`` refuses that operation."""
    doc = Document("alice", clock=FakeClock(100, step=3))
    m = doc.get_map("m")
    m.set("k", 1)
    m.delete("k")
    m.get_map("k")
    m.set("later", 2)
    create = doc._log[0][2]
    assert create[0] == K.MAP_CREATE and create[1] == 3 and create[6] == (0, 2)
    doc._log[0][2] = (*create[:6], (0, epoch_seq))  # what a hostile snapshot's writer claims
    data = doc.save()
    if not loads:
        with pytest.raises(DecodeError, match="replaces a write made after it"):
            Document.load(data)
        return
    loaded = Document.load(data)
    fresh = Document("fresh")
    fresh.apply(loaded.changes())
    assert fresh.to_json() == loaded.to_json() == {"m": {"k": {}, "later": 2}}


def test_a_client_s_field_writes_out_of_seq_order_are_refused() -> None:
    """alice's field writes alice:1-2 and alice:3 as two changes, the later one first. Loaded,
    the document sent its writes renumbered (``c`` as alice:3, ``a`` and ``b`` as alice:4-5)
    and a version beyond its own, so a fresh replica took seqs alice had not written as
    held. Load refuses the order, as it already did for every other kind of operation."""
    doc = Document("alice", clock=FakeClock(100, step=3))
    doc.set("a", 1)
    doc.set("b", 2)
    doc.set("c", 3)
    snap = changes_pb2.Snapshot.FromString(doc.save())
    ops = sorted(
        (K.FIELD_SET, seq, name, hlc, value) for name, (hlc, _, seq, value) in doc._fields.items()
    )
    writer = ChangeSetWriter(doc._clients)
    writer.add(0, 3, {}, ops[2:])
    writer.add(0, 1, {}, ops[:2])
    del snap.changes[:], snap.names[:]
    snap.changes.extend(writer.messages())
    snap.names.extend(writer.names)
    assert list(snap.names) == ["c", "a", "b"]
    snap.ClearField("checksum")
    data = sealed(snap.SerializeToString())
    with pytest.raises(DecodeError, match="operations are out of order"):
        Document.load(data)
    # The same changes in seq order load, and sync.
    del snap.changes[:], snap.names[:]
    writer = ChangeSetWriter(doc._clients)
    writer.add(0, 1, {}, ops[:2])
    writer.add(0, 3, {}, ops[2:])
    snap.changes.extend(writer.messages())
    snap.names.extend(writer.names)
    loaded = Document.load(sealed(snap.SerializeToString()))
    fresh = Document("fresh")
    fresh.apply(loaded.changes())
    assert fresh.to_json() == loaded.to_json() == {"a": 1, "b": 2, "c": 3}


@pytest.mark.parametrize(("checkpoint_at", "loads"), [(None, True), (4, True), (2, False)])
def test_a_text_item_whose_right_origin_falls_out_of_its_dependencies_is_refused(
    checkpoint_at: int | None, loads: bool
) -> None:
    """bob types "xyz" (bob:1-3) between alice's "a" and "b": one item whose every character
    has alice:2 ("b") as its right origin, which bob depended on. A snapshot adding a
    checkpoint inside the item (at bob:2) that depends on nothing makes ``changes`` cut the
    item there, and every replica refuses the second part (its right origin is not among its
    dependencies); load checks a right origin at each checkpoint inside its item. A
    checkpoint after the item (bob:4) changes nothing."""
    alice = Document("alice", clock=FakeClock(100, step=3))
    bob = Document("bob", clock=FakeClock(200, step=3))
    alice.get_text("t").insert(0, "ab")
    bob.apply(alice.changes())
    bob.get_text("t").insert(1, "xyz")
    alice.apply(bob.changes(alice.version()))
    assert str(alice.get_text("t")) == "axyzb"
    snap = changes_pb2.Snapshot.FromString(alice.save())
    if checkpoint_at is not None:
        snap.checkpoints.extend([list(snap.clients).index("bob"), checkpoint_at, 0])
    snap.ClearField("checksum")
    data = sealed(snap.SerializeToString())
    if not loads:
        with pytest.raises(DecodeError, match="origin of another client"):
            Document.load(data)
        return
    loaded = Document.load(data)
    fresh = Document("fresh")
    fresh.apply(loaded.changes())
    assert fresh.version() == loaded.version()
    assert str(fresh.get_text("t")) == "axyzb"


def test_a_checkpoint_past_its_clients_text_checks_no_other_clients_item() -> None:
    """Found with minimal dependencies: the check of right origins at checkpoints inside an
    item keyed a checkpoint as ``client * shift + seq``, so a checkpoint of ``a`` at a seq
    past the text's highest fell among ``b``'s characters, and ``b``'s item was checked at a
    seq ``b`` never reached, against a later checkpoint of ``b`` that does not name the item's
    right origin (whole version vectors always did, which hid it). An honest snapshot was
    refused."""
    a, z, b, w, v = (Document(name) for name in ("a", "z", "b", "w", "v"))
    z.get_text("t").insert(0, "Z")
    b.apply(z.changes())
    b.get_text("t").insert(0, "hello")  # right origin z:1
    w.get_counter("n").increment()
    b.apply(w.changes())
    b.get_counter("n").increment()  # b's checkpoint at 6 names w, not z
    a.apply(b.changes())
    a.get_text("t").insert(6, "x")
    for _ in range(6):
        a.get_counter("n").increment()
    v.get_counter("n").increment()
    a.apply(v.changes())
    a.get_counter("n").increment()  # a's checkpoint at 8: among b's keys (shift 6)
    assert a._clients[:3] == ["a", "b", "z"]
    assert [start for start, _ in a._checkpoints[0]] == [1, 8]
    loaded = Document.load(a.save())
    assert loaded.to_json() == a.to_json()
