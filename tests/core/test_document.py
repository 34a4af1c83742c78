"""Deterministic unit tests of the document API, one behaviour each."""

from __future__ import annotations

import pytest
from fakeclock import FakeClock

from synckit import ChangeEvent, DecodeError, Document, Ordering, VersionVector


def sync(*docs: Document) -> None:
    for a in docs:
        for b in docs:
            if a is not b:
                b.apply(a.changes(b.version()))


def test_set_get_delete_update() -> None:
    d = Document("a")
    d.set("x", 1)
    d.update({"y": [1, {"z": None}], "w": "s"})
    assert d.get("x") == 1
    assert d.get("y") == [1, {"z": None}]
    d.delete("x")
    assert d.get("x") is None
    assert d.get("x", 5) == 5
    assert d.to_json() == {"y": [1, {"z": None}], "w": "s"}


BAD_VALUES = [object(), (1, 2), {1: 2}, float("nan"), float("inf"), b"x", {"a": {3}}]


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_non_json_values_raise_type_error_and_change_nothing(bad: object) -> None:
    d = Document("a")
    d.set("x", 1)
    before = d.save()
    with pytest.raises(TypeError):
        d.set("x", bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        d.update({"ok": 1, "x": bad})  # type: ignore[dict-item]
    assert d.save() == before
    assert d.get("ok") is None


def test_values_are_copied_in_and_out() -> None:
    d = Document("a")
    value = {"k": [1]}
    d.set("x", value)
    value["k"].append(2)
    got = d.get("x")
    assert got == {"k": [1]}
    assert isinstance(got, dict) and isinstance(got["k"], list)
    got["k"].append(3)
    assert d.get("x") == {"k": [1]}


def test_write_that_has_seen_another_wins_despite_clock_far_behind() -> None:
    fast, slow = FakeClock(10_000_000), FakeClock(1_000)
    a, b = Document("a", clock=fast), Document("b", clock=slow)
    a.set("x", "from a")
    b.merge(a)
    b.set("x", "from b, later")  # b's wall clock is hours behind, but it saw a's write
    a.merge(b)
    assert a.get("x") == b.get("x") == "from b, later"


def test_concurrent_writes_tie_break_on_client_id(clock: FakeClock) -> None:
    clock.set(5)
    a, b = Document("a", clock=clock), Document("b", clock=clock)
    a.set("x", "a")
    b.set("x", "b")
    sync(a, b)
    assert a.get("x") == b.get("x") == "b"


def test_delete_is_a_tombstone_that_obeys_lww() -> None:
    a, b = Document("a", clock=FakeClock(100)), Document("b", clock=FakeClock(50))
    a.set("x", 1)
    sync(a, b)
    b.delete("x")  # has seen a's write: wins though its clock is behind
    a.merge(b)
    assert a.to_json() == b.to_json() == {}
    c = Document("c", clock=FakeClock(10_000))
    c.set("x", "concurrent, later clock")
    sync(a, b, c)
    assert a.get("x") == b.get("x") == c.get("x") == "concurrent, later clock"


def test_counter_sums_concurrent_changes() -> None:
    a, b = Document("a"), Document("b")
    a.get_counter("n").increment(5)
    b.get_counter("n").decrement(2)
    b.get_counter("n").increment()
    sync(a, b)
    assert a.get_counter("n").value == b.get_counter("n").value == 4
    with pytest.raises(TypeError):
        a.get_counter("n").increment(1.5)  # type: ignore[arg-type]


def test_orset_add_wins_over_concurrent_remove() -> None:
    a, b = Document("a"), Document("b")
    a.get_set("s").add("x")
    sync(a, b)
    a.get_set("s").remove("x")
    b.get_set("s").add("x")
    sync(a, b)
    assert "x" in a.get_set("s") and "x" in b.get_set("s")
    a.get_set("s").remove("x")
    sync(a, b)
    assert len(b.get_set("s")) == 0
    with pytest.raises(KeyError):
        b.get_set("s").remove("x")


def test_orset_keeps_1_1_0_and_true_apart() -> None:
    d = Document("a")
    s = d.get_set("s")
    for m in (1, 1.0, True, "1", None):
        s.add(m)
    assert len(s) == 5
    s.remove(1.0)
    assert 1 in s and True in s and 1.0 not in s
    with pytest.raises(TypeError):
        s.add([1])  # type: ignore[arg-type]


def test_list_insert_move_delete() -> None:
    d = Document("a")
    lst = d.get_list("l")
    for v in "abcde":
        lst.append(v)
    lst.insert(0, "start")
    lst.move(0, 5)
    assert list(lst) == ["a", "b", "c", "d", "e", "start"]
    lst.move(5, 2)
    assert list(lst) == ["a", "b", "start", "c", "d", "e"]
    lst.delete(2)
    assert list(lst) == ["a", "b", "c", "d", "e"]
    assert lst[-1] == "e" and len(lst) == 5
    with pytest.raises(IndexError):
        lst.insert(7, "x")
    with pytest.raises(IndexError):
        lst.move(0, 5)


def test_list_concurrent_inserts_at_one_index_keep_both_in_one_order() -> None:
    a, b, c = Document("a"), Document("b"), Document("c")
    a.get_list("l").append("base")
    sync(a, b, c)
    a.get_list("l").insert(0, "from a")
    b.get_list("l").insert(0, "from b")
    c.get_list("l").insert(1, "from c")
    sync(a, b, c)
    assert list(a.get_list("l")) == list(b.get_list("l")) == list(c.get_list("l"))
    assert sorted(a.get_list("l")) == sorted(["base", "from a", "from b", "from c"])  # type: ignore[type-var]


def test_list_concurrent_moves_leave_item_exactly_once() -> None:
    a, b = Document("a"), Document("b")
    for v in "wxyz":
        a.get_list("l").append(v)
    sync(a, b)
    a.get_list("l").move(0, 3)
    b.get_list("l").move(0, 1)
    sync(a, b)
    assert list(a.get_list("l")) == list(b.get_list("l"))
    assert sorted(a.get_list("l")) == ["w", "x", "y", "z"]  # type: ignore[type-var]


def test_list_delete_wins_over_concurrent_move() -> None:
    a, b = Document("a"), Document("b")
    for v in "xyz":
        a.get_list("l").append(v)
    sync(a, b)
    a.get_list("l").delete(0)
    b.get_list("l").move(0, 2)
    sync(a, b)
    assert list(a.get_list("l")) == list(b.get_list("l")) == ["y", "z"]


def test_text_insert_delete_code_points() -> None:
    d = Document("a")
    t = d.get_text("t")
    t.insert(0, "héllo 👋🏽 世界")
    t.delete(6, 2)
    assert str(t) == "héllo  世界"
    t.insert(len(t), "e\u0301")
    assert str(t).endswith("e\u0301") and len(t) == 11
    for bad in ((-1, "x"), (len(t) + 1, "x")):
        with pytest.raises(IndexError):
            t.insert(*bad)
    with pytest.raises(IndexError):
        t.delete(10, 5)
    assert str(t) == "héllo  世界e\u0301"


def test_taking_a_handle_replicates_nothing() -> None:
    a = Document("a")
    v = a.version()
    a.get_text("t")
    a.get_list("l")
    a.get_set("s")
    a.get_counter("c")
    assert a.to_json() == {}
    assert a.version() == v


def test_a_name_belongs_to_one_kind() -> None:
    d = Document("a")
    d.get_counter("n").increment()
    with pytest.raises(TypeError, match="counter"):
        d.set("n", 1)
    with pytest.raises(TypeError):
        d.get_text("n")


def test_subscribe_reports_local_and_remote_changes() -> None:
    a, b = Document("a"), Document("b")
    seen: list[ChangeEvent] = []
    unsubscribe = b.subscribe(seen.append)
    b.set("x", 1)
    a.set("y", 2)
    b.apply(a.changes())
    assert [(e.local, set(e.names)) for e in seen] == [(True, {"x"}), (False, {"y"})]
    unsubscribe()
    b.set("z", 3)
    assert len(seen) == 2


def test_version_vector_compare_merge_encode() -> None:
    a, b = Document("a"), Document("b")
    a.set("x", 1)
    va0 = a.version()
    b.merge(a)
    assert a.version().compare(b.version()) is Ordering.EQUAL
    b.set("y", 1)
    assert va0.compare(b.version()) is Ordering.BEFORE
    assert b.version().compare(va0) is Ordering.AFTER
    a.set("z", 1)
    assert a.version().compare(b.version()) is Ordering.CONCURRENT
    merged = a.version().merge(b.version())
    assert merged == VersionVector({"a": 2, "b": 1})
    assert VersionVector.decode(merged.encode()) == merged
    assert merged.total() == 3 and VersionVector().total() == 0
    assert b.version().total() - va0.total() == 1  # b holds one operation more than a did


def test_changes_since_own_version_is_empty_and_apply_is_idempotent() -> None:
    a, b = Document("a"), Document("b")
    a.set("x", 1)
    a.get_text("t").insert(0, "hi")
    data = a.changes()
    b.apply(data)
    b.apply(data)
    assert b.to_json() == a.to_json()
    assert len(a.changes(a.version())) < 8


def test_out_of_order_changes_wait_until_their_predecessors_arrive() -> None:
    a, b = Document("a"), Document("b")
    a.set("x", 1)
    v1 = a.version()
    a.get_text("t").insert(0, "abc")
    a.get_text("t").delete(1, 1)
    b.apply(a.changes(v1))
    assert b.to_json() == {} and b.version() == VersionVector()
    b.apply(a.changes(VersionVector()))
    assert b.to_json() == {"x": 1, "t": "ac"}


def test_save_load_continues_the_writers_sequence() -> None:
    a = Document("a")
    a.set("x", 1)
    a.get_text("t").insert(0, "hello")
    a.get_list("l").append(1)
    b = Document("b")
    b.merge(a)
    restored = Document.load(a.save(), client_id="a")
    assert restored.to_json() == a.to_json() and restored.version() == a.version()
    restored.set("x", 2)
    assert restored.version()["a"] == a.version()["a"] + 1
    b.merge(restored)
    assert b.get("x") == 2


def test_pending_changes_survive_save_and_load() -> None:
    a, b = Document("a"), Document("b")
    a.set("x", 1)
    v1 = a.version()
    a.set("y", 2)
    b.apply(a.changes(v1))
    c = Document.load(b.save())
    c.apply(a.changes(VersionVector()))
    assert c.to_json() == {"x": 1, "y": 2}


def test_snapshot_corruption_is_caught_by_its_checksum() -> None:
    d = Document("a")
    d.set("x", "value")
    data = bytearray(d.save())
    data[len(data) // 2] ^= 0x01
    with pytest.raises(DecodeError, match="checksum"):
        Document.load(bytes(data))
    with pytest.raises(DecodeError, match="truncated"):
        Document.load(d.save()[:-3])


def test_the_document_module_still_exports_the_document_and_its_handles() -> None:
    import synckit
    from synckit.core import _document

    names = ("Counter", "Document", "List", "ORSet", "Text")
    assert all(getattr(_document, n) is getattr(synckit, n) for n in names)


def test_load_and_apply_work_on_a_subclass() -> None:
    class Mine(Document):
        __slots__ = ()

    a = Mine("a")
    a.set("x", 1)
    a.get_text("t").insert(0, "hi")
    b = Mine.load(a.save(), "b")
    assert type(b) is Mine and b.to_json() == {"x": 1, "t": "hi"}
    c = Mine("c")
    c.apply(b.changes())
    c.merge(a)
    assert c.to_json() == b.to_json()


def test_import_synckit_loads_no_networking_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, synckit; assert 'synckit.client' not in sys.modules; "
        "assert 'websockets' not in sys.modules; assert callable(synckit.connect)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_long_texts_are_saved_deflated_and_either_form_loads() -> None:
    import zlib

    from synckit.v1 import changes_pb2

    doc = Document("a")
    text = doc.get_text("t")
    text.insert(0, "the quick brown fox jumps over the lazy dog; " * 40 + "日本語 🙂")
    text.delete(10, 30)
    doc.get_text("short").insert(0, "tiny")
    data = doc.save()
    snap = changes_pb2.Snapshot.FromString(data)
    by_name = {snap.names[ts.name]: ts for ts in snap.texts}
    long_state, short_state = by_name["t"], by_name["short"]
    assert long_state.content == "" and len(long_state.content_deflate) < len(str(text)) // 4
    assert short_state.content == "tiny" and not short_state.content_deflate
    assert Document.load(data).to_json() == doc.to_json()
    # A writer may also store a long text plainly: it loads the same.
    long_state.content = zlib.decompress(long_state.content_deflate).decode()
    long_state.ClearField("content_deflate")
    snap.ClearField("checksum")
    body = snap.SerializeToString()
    plain = body + bytes([11 << 3 | 5]) + zlib.crc32(body).to_bytes(4, "little")
    assert Document.load(plain).to_json() == doc.to_json()


def test_text_length_counts_every_text_nested_ones_too() -> None:
    doc = Document("a")
    assert doc.text_length() == 0
    doc.get_text("t").insert(0, "héllo")
    doc.get_map("m").get_text("note").insert(0, "ab")
    doc.get_text("t").delete(0, 1)
    assert doc.text_length() == 4 + 2
    copy = Document.load(doc.save())
    assert copy.text_length() == 6
