"""Core benchmarks (issue 2): SyncKit's document model side by side with pycrdt and loro.

Every figure is measured for each library through its public Python API, in the way an
application would normally drive it (see README.md for the exact choices). Each ``bench_*``
function returns :class:`Figure` rows; ``run.py`` turns them into the table.
"""

from __future__ import annotations

import random
import statistics
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _measure import (
    FAILURES,
    Figure,
    best_of,
    best_of_simple,
    ms,
    new_loro_doc,
    progress,
    rss_bytes,
    run_child,
    settle,
)

PEERS = ("synckit", "pycrdt", "loro")


@dataclass(frozen=True)
class CoreSizes:
    field_sets: int = 100_000
    field_keys: int = 100
    set_repeat: int = 5
    batch_fields: int = 1_000
    batches_per_run: int = 20
    batch_repeat: int = 5
    merge_ops: int = 1_000
    merge_repeat: int = 15
    changes_doc_fields: int = 1_000
    changes_changed: int = 100
    changes_calls: int = 200
    changes_repeat: int = 5
    mem_docs: int = 10_000
    mem_fields: int = 10
    mem_children: int = 3


QUICK = CoreSizes(
    field_sets=10_000,
    set_repeat=2,
    batches_per_run=5,
    batch_repeat=2,
    merge_repeat=2,
    changes_calls=50,
    changes_repeat=2,
    mem_docs=1_000,
    mem_children=1,
)


def _guard(figs: list[Figure], lib: str, fn: Callable[[], dict[str, float]]) -> None:
    """Run one library's measurement; put each returned value into the figure of that key."""
    try:
        out = fn()
    except Exception as exc:  # one broken library must not hide the others' figures
        msg = f"{type(exc).__name__}: {exc}"
        progress(f"  ! {lib} failed: {msg}")
        FAILURES.append(f"{lib}: {', '.join(f.key for f in figs)}: {msg}")
        for fig in figs:
            fig.values[lib] = None
            fig.errors[lib] = msg
        return
    for fig in figs:
        if fig.key in out:
            fig.values[lib] = out[fig.key]


# --------------------------------------------------------------------------- field set


def _field_set(sizes: CoreSizes) -> list[Figure]:
    n = sizes.field_sets
    keys = [f"k{i % sizes.field_keys}" for i in range(n)]
    fig = Figure(
        "field_set",
        f"field set, µs/op ({n:,} sets over {sizes.field_keys} keys)",
        "µs/op",
        reference={"pycrdt": 2.74, "loro": 1.61},
    )
    fig_nc = Figure(
        "field_set_nocommit",
        "field set, µs/op — loro without a commit per op",
        "µs/op",
    )

    def synckit() -> dict[str, float]:
        from synckit import Document

        def setup() -> Any:
            return Document("bench-a")

        def run(doc: Any) -> Any:
            s = doc.set
            for i, k in enumerate(keys):
                s(k, i)
            return doc

        t, doc = best_of(run, setup, sizes.set_repeat)
        assert doc.get(keys[-1]) == n - 1
        return {"field_set": t / n / 1000}

    def pycrdt() -> dict[str, float]:
        from pycrdt import Doc, Map

        def setup() -> Any:
            doc: Any = Doc(client_id=1)
            return doc.get("fields", type=Map)

        def run(m: Any) -> Any:
            for i, k in enumerate(keys):
                m[k] = i  # one implicit transaction per set
            return m

        t, m = best_of(run, setup, sizes.set_repeat)
        assert m[keys[-1]] == n - 1
        return {"field_set": t / n / 1000}

    def loro() -> dict[str, float]:
        def setup() -> Any:
            doc = new_loro_doc(1)
            return doc

        def run(doc: Any) -> Any:
            m = doc.get_map("fields")
            ins = m.insert
            commit = doc.commit
            for i, k in enumerate(keys):
                ins(k, i)
                commit()
            return m

        def run_nc(doc: Any) -> Any:
            m = doc.get_map("fields")
            ins = m.insert
            for i, k in enumerate(keys):
                ins(k, i)
            doc.commit()
            return m

        t, m = best_of(run, setup, sizes.set_repeat)
        assert m.get(keys[-1]).value == n - 1
        t_nc, m = best_of(run_nc, setup, sizes.set_repeat)
        assert m.get(keys[-1]).value == n - 1
        return {"field_set": t / n / 1000, "field_set_nocommit": t_nc / n / 1000}

    for lib, fn in (("synckit", synckit), ("pycrdt", pycrdt), ("loro", loro)):
        progress(f"field set: {lib}")
        _guard([fig, fig_nc], lib, fn)
    fig_nc.values.pop("synckit", None)
    fig_nc.values.pop("pycrdt", None)
    loro_v = fig.values.get("loro")
    fig.target = "≤ loro's"
    fig.limit = loro_v
    return [fig, fig_nc]


# --------------------------------------------------------------------------- batch update


def _batch(sizes: CoreSizes) -> list[Figure]:
    nf, nb = sizes.batch_fields, sizes.batches_per_run
    batches = [{f"f{j}": b * 10_000 + j for j in range(nf)} for b in range(nb)]
    fig = Figure(
        "batch_update",
        f"{nf:,}-field batch update, µs/batch",
        "µs/batch",
        decimals=0,
    )

    def synckit() -> dict[str, float]:
        from synckit import Document

        def run(doc: Any) -> Any:
            for mapping in batches:
                doc.update(mapping)
            return doc

        t, doc = best_of(run, lambda: Document("bench-a"), sizes.batch_repeat)
        assert doc.to_json() == batches[-1]
        return {"batch_update": t / nb / 1000}

    def pycrdt() -> dict[str, float]:
        from pycrdt import Doc, Map

        def setup() -> Any:
            doc: Any = Doc(client_id=1)
            return doc, doc.get("fields", type=Map)

        def run(state: Any) -> Any:
            doc, m = state
            for mapping in batches:
                with doc.transaction():
                    for k, v in mapping.items():
                        m[k] = v
            return m

        t, m = best_of(run, setup, sizes.batch_repeat)
        assert m.to_py() == batches[-1]
        return {"batch_update": t / nb / 1000}

    def loro() -> dict[str, float]:
        def setup() -> Any:
            doc = new_loro_doc(1)
            return doc

        def run(doc: Any) -> Any:
            m = doc.get_map("fields")
            ins = m.insert
            for mapping in batches:
                for k, v in mapping.items():
                    ins(k, v)
                doc.commit()
            return doc

        t, doc = best_of(run, setup, sizes.batch_repeat)
        assert doc.get_deep_value()["fields"] == batches[-1]
        return {"batch_update": t / nb / 1000}

    for lib, fn in (("synckit", synckit), ("pycrdt", pycrdt), ("loro", loro)):
        progress(f"batch update: {lib}")
        _guard([fig], lib, fn)
    return [fig]


# --------------------------------------------------------------------------- two-replica merge


def _exchange_synckit(state: Any) -> int:
    """Both replicas send what the other lacks and apply what they get; bytes A->B."""
    a, b = state
    va, vb = a.version(), b.version()
    ab = a.changes(vb)
    ba = b.changes(va)
    b.apply(ab)
    a.apply(ba)
    return len(ab)


def _exchange_pycrdt(state: Any) -> int:
    a, b = state
    sa, sb = a.get_state(), b.get_state()
    ab = a.get_update(sb)
    ba = b.get_update(sa)
    b.apply_update(ab)
    a.apply_update(ba)
    return len(ab)


def _exchange_loro(state: Any) -> int:
    from loro import ExportMode

    a, b = state
    va, vb = a.oplog_vv, b.oplog_vv
    ab = a.export(ExportMode.Updates(vb))
    ba = b.export(ExportMode.Updates(va))
    b.import_(ab)
    a.import_(ba)
    return len(ab)


def _script(seed: int, n: int, n_keys: int) -> list[tuple[str, int, int, str]]:
    """``n`` steps of (field key, value, text position, char) for one replica, seeded.

    Text positions are drawn uniformly over the replica's own text as it grows
    (position ``randrange(i + 1)`` at step ``i``, when the text has ``i`` characters).
    """
    rng = random.Random(seed)
    letters = string.ascii_lowercase
    return [
        (
            f"f{rng.randrange(n_keys)}",
            rng.randrange(1_000_000),
            rng.randrange(i + 1),
            rng.choice(letters),
        )
        for i in range(n)
    ]


def _merge(sizes: CoreSizes) -> list[Figure]:
    n = sizes.merge_ops
    script_a = _script(1, n, 100)
    script_b = _script(2, n, 100)
    f_ms = Figure(
        "merge_ms",
        f"2-replica merge, ms ({n:,} sets + {n:,} text inserts each, both ways)",
        "ms",
        reference={"pycrdt": 3.7, "loro": 17.8},
    )
    f_bytes = Figure(
        "merge_bytes",
        "merge bytes A->B",
        "bytes",
        decimals=0,
        reference={"pycrdt": 56_000, "loro": 26_800},
    )
    figs = [f_ms, f_bytes]

    def synckit() -> dict[str, float]:
        from synckit import Document

        def build(cid: str, script: list[tuple[str, int, int, str]]) -> Any:
            doc = Document(cid)
            text = doc.get_text("text")
            for key, value, pos, ch in script:
                doc.set(key, value)
                text.insert(pos, ch)
            return doc

        def setup() -> Any:
            return build("replica-a", script_a), build("replica-b", script_b)

        t, size = best_of(_exchange_synckit, setup, sizes.merge_repeat)
        a, b = setup()
        _exchange_synckit((a, b))
        ja, jb = a.to_json(), b.to_json()
        assert ja == jb, "SyncKit replicas did not converge"
        assert len(ja["text"]) == 2 * n
        return {"merge_ms": ms(t), "merge_bytes": size}

    def pycrdt() -> dict[str, float]:
        from pycrdt import Doc, Map, Text

        def build(cid: int, script: list[tuple[str, int, int, str]]) -> Any:
            doc: Any = Doc(client_id=cid)
            m = doc.get("fields", type=Map)
            text = doc.get("text", type=Text)
            for key, value, pos, ch in script:
                m[key] = value
                text.insert(pos, ch)  # ASCII: byte offsets equal code points
            return doc

        def setup() -> Any:
            return build(1, script_a), build(2, script_b)

        t, size = best_of(_exchange_pycrdt, setup, sizes.merge_repeat)
        a, b = setup()
        _exchange_pycrdt((a, b))
        ta, tb = str(a.get("text", type=Text)), str(b.get("text", type=Text))
        assert ta == tb and len(ta) == 2 * n, "pycrdt replicas did not converge"
        assert a.get("fields", type=Map).to_py() == b.get("fields", type=Map).to_py()
        return {"merge_ms": ms(t), "merge_bytes": size}

    def loro() -> dict[str, float]:
        def build(cid: int, script: list[tuple[str, int, int, str]]) -> Any:
            doc = new_loro_doc(cid)
            m = doc.get_map("fields")
            text = doc.get_text("text")
            for key, value, pos, ch in script:
                m.insert(key, value)
                doc.commit()
                text.insert(pos, ch)
                doc.commit()
            return doc

        def setup() -> Any:
            return build(1, script_a), build(2, script_b)

        t, size = best_of(_exchange_loro, setup, sizes.merge_repeat)
        a, b = setup()
        _exchange_loro((a, b))
        da, db = a.get_deep_value(), b.get_deep_value()
        assert da == db and len(da["text"]) == 2 * n, "loro replicas did not converge"
        return {"merge_ms": ms(t), "merge_bytes": size}

    for lib, fn in (("synckit", synckit), ("pycrdt", pycrdt), ("loro", loro)):
        progress(f"merge: {lib}")
        _guard(figs, lib, fn)
    f_ms.target, f_ms.limit = "≤ pycrdt's", f_ms.values.get("pycrdt")
    f_bytes.target, f_bytes.limit = "≤ loro's", f_bytes.values.get("loro")
    return figs


# --------------------------------------------------------------------------- typing merge

Patch = tuple[int, int, str]  # (position, characters deleted there, text inserted there)


def _typing_script(seed: int, base: str, keystrokes: int) -> list[Patch]:
    """``keystrokes`` edits of one person typing into ``base``, one patch per keystroke.

    Typing bursts of 1-12 characters at a cursor that now and then jumps elsewhere, and runs of
    1-6 backspaces, as in real editing (unlike the merge above, whose inserts land at random
    positions, so that every character is an item of its own).
    """
    rng = random.Random(seed)
    letters = string.ascii_lowercase + "  ."
    text = base
    cursor = rng.randrange(len(text) + 1)
    patches: list[Patch] = []
    while len(patches) < keystrokes:
        r = rng.random()
        if r < 0.1:
            cursor = rng.randrange(len(text) + 1)
        elif r < 0.75:
            for _ in range(rng.randint(1, 12)):
                ch = rng.choice(letters)
                patches.append((cursor, 0, ch))
                text = text[:cursor] + ch + text[cursor:]
                cursor += 1
        elif cursor:
            for _ in range(min(cursor, rng.randint(1, 6))):
                cursor -= 1
                patches.append((cursor, 1, ""))
                text = text[:cursor] + text[cursor + 1 :]
    return patches[:keystrokes]


def _merge_typing(sizes: CoreSizes) -> list[Figure]:
    n, base_len = sizes.merge_ops, 2_000
    base = "".join(random.Random(0).choice(string.ascii_lowercase + " ") for _ in range(base_len))
    script_a = _typing_script(1, base, n)
    script_b = _typing_script(2, base, n)
    f_ms = Figure(
        "merge_typing_ms",
        f"  … same, but {n:,} keystrokes each typed in bursts into a shared "
        f"{base_len:,}-char text, ms",
        "ms",
    )
    f_bytes = Figure("merge_typing_bytes", "  … its bytes A->B", "bytes", decimals=0)
    figs = [f_ms, f_bytes]
    # Every keystroke survives the merge: the text grows by both sides' net insertions.
    expect_len = base_len + sum(len(ins) - nd for _, nd, ins in (*script_a, *script_b))

    def replay_synckit(doc: Any, script: list[Patch]) -> None:
        text = doc.get_text("text")
        for pos, nd, ins in script:
            if nd:
                text.delete(pos, nd)
            if ins:
                text.insert(pos, ins)

    def synckit() -> dict[str, float]:
        from synckit import Document

        origin = Document("base")
        origin.get_text("text").insert(0, base)
        snap = origin.save()

        def setup() -> Any:
            a = Document.load(snap, "replica-a")
            b = Document.load(snap, "replica-b")
            replay_synckit(a, script_a)
            replay_synckit(b, script_b)
            return a, b

        t, size = best_of(_exchange_synckit, setup, sizes.merge_repeat)
        a, b = setup()
        _exchange_synckit((a, b))
        assert a.to_json() == b.to_json(), "SyncKit replicas did not converge"
        assert len(a.get_text("text")) == expect_len
        return {"merge_typing_ms": ms(t), "merge_typing_bytes": size}

    def pycrdt() -> dict[str, float]:
        from pycrdt import Doc, Text

        origin: Any = Doc(client_id=3)
        origin.get("text", type=Text).insert(0, base)
        update = origin.get_update()

        def fork(cid: int, script: list[Patch]) -> Any:
            doc: Any = Doc(client_id=cid)
            doc.apply_update(update)
            text = doc.get("text", type=Text)
            for pos, nd, ins in script:  # ASCII: byte offsets equal code points
                if nd:
                    del text[pos : pos + nd]
                if ins:
                    text.insert(pos, ins)
            return doc

        def setup() -> Any:
            return fork(1, script_a), fork(2, script_b)

        t, size = best_of(_exchange_pycrdt, setup, sizes.merge_repeat)
        a, b = setup()
        _exchange_pycrdt((a, b))
        ta = str(a.get("text", type=Text))
        assert ta == str(b.get("text", type=Text)), "pycrdt replicas did not converge"
        assert len(ta) == expect_len
        return {"merge_typing_ms": ms(t), "merge_typing_bytes": size}

    def loro() -> dict[str, float]:
        from loro import ExportMode

        origin = new_loro_doc(3)
        origin.get_text("text").insert(0, base)
        origin.commit()
        snap = origin.export(ExportMode.Snapshot())

        def fork(cid: int, script: list[Patch]) -> Any:
            doc = new_loro_doc(cid)
            doc.import_(snap)
            text = doc.get_text("text")
            for pos, nd, ins in script:
                if nd:
                    text.delete(pos, nd)
                if ins:
                    text.insert(pos, ins)
                doc.commit()
            return doc

        def setup() -> Any:
            return fork(1, script_a), fork(2, script_b)

        t, size = best_of(_exchange_loro, setup, sizes.merge_repeat)
        a, b = setup()
        _exchange_loro((a, b))
        da = a.get_deep_value()
        assert da == b.get_deep_value(), "loro replicas did not converge"
        assert len(da["text"]) == expect_len
        return {"merge_typing_ms": ms(t), "merge_typing_bytes": size}

    for lib, fn in (("synckit", synckit), ("pycrdt", pycrdt), ("loro", loro)):
        progress(f"merge, typing sessions: {lib}")
        _guard(figs, lib, fn)
    return figs


# --------------------------------------------------------------------------- changes(since)


def _changes(sizes: CoreSizes) -> list[Figure]:
    nf, nc, calls = sizes.changes_doc_fields, sizes.changes_changed, sizes.changes_calls
    initial = {f"f{j}": j for j in range(nf)}
    changed = [(f"f{j}", -j - 1) for j in range(0, nf, nf // nc)][:nc]
    f_us = Figure(
        "changes_us",
        f"changes(since) for {nc} changed fields of {nf:,}, µs",
        "µs",
        decimals=1,
    )
    f_bytes = Figure("changes_bytes", "  … its size, bytes", "bytes", decimals=0)
    figs = [f_us, f_bytes]
    expect = dict(initial)
    expect.update(changed)

    def timed(call: Callable[[], bytes]) -> tuple[float, bytes]:
        def many() -> bytes:
            out = b""
            for _ in range(calls):
                out = call()
            return out

        t, out = best_of_simple(many, sizes.changes_repeat)
        return t / calls / 1000, out

    def synckit() -> dict[str, float]:
        from synckit import Document

        doc = Document("bench-a")
        doc.update(initial)
        base, since = doc.changes(), doc.version()
        for k, v in changed:
            doc.set(k, v)
        us, delta = timed(lambda: doc.changes(since))
        other = Document("bench-b")
        other.apply(base)
        other.apply(delta)
        assert other.to_json() == expect
        return {"changes_us": us, "changes_bytes": len(delta)}

    def pycrdt() -> dict[str, float]:
        from pycrdt import Doc, Map

        doc: Any = Doc(client_id=1)
        m = doc.get("fields", type=Map)
        with doc.transaction():
            for k, v in initial.items():
                m[k] = v
        base, since = doc.get_update(), doc.get_state()
        for k, v in changed:
            m[k] = v
        us, delta = timed(lambda: doc.get_update(since))
        other: Any = Doc(client_id=2)
        other.apply_update(base)
        other.apply_update(delta)
        assert other.get("fields", type=Map).to_py() == expect
        return {"changes_us": us, "changes_bytes": len(delta)}

    def loro() -> dict[str, float]:
        from loro import ExportMode

        doc = new_loro_doc(1)
        m = doc.get_map("fields")
        for k, v in initial.items():
            m.insert(k, v)
        doc.commit()
        base, since = doc.export(ExportMode.Snapshot()), doc.oplog_vv
        for k, v in changed:
            m.insert(k, v)
            doc.commit()
        us, delta = timed(lambda: doc.export(ExportMode.Updates(since)))
        other = new_loro_doc()
        other.import_(base)
        other.import_(delta)
        assert other.get_deep_value()["fields"] == expect
        return {"changes_us": us, "changes_bytes": len(delta)}

    for lib, fn in (("synckit", synckit), ("pycrdt", pycrdt), ("loro", loro)):
        progress(f"changes(since): {lib}")
        _guard(figs, lib, fn)
    return figs


# --------------------------------------------------------------------------- memory


def memory_child(lib: str, n_docs: str, n_fields: str) -> dict[str, Any]:
    """Child process: RSS growth from building ``n_docs`` documents of ``n_fields`` fields.

    Each document gets its fields in one batch (SyncKit ``update()``, one pycrdt transaction,
    one loro commit). The library is imported and warmed up on one throwaway document before the
    baseline reading, so import cost is not counted.
    """
    nd, nf = int(n_docs), int(n_fields)
    keys = [f"field{j}" for j in range(nf)]  # shared key objects, as an app's schema would be
    make: Callable[[int], Any]
    if lib == "plain":

        def make(d: int) -> Any:
            return {keys[j]: (d * 100 + j if j % 2 == 0 else f"value {d}/{j}") for j in range(nf)}

    elif lib in ("synckit", "synckit-compact"):
        from synckit import Document

        compact = lib == "synckit-compact"

        def make(d: int) -> Any:
            doc = Document()
            doc.update(
                {keys[j]: (d * 100 + j if j % 2 == 0 else f"value {d}/{j}") for j in range(nf)}
            )
            if compact:
                doc.compact()  # kept as its snapshot bytes until next used
            return doc

    elif lib == "pycrdt":
        from pycrdt import Doc, Map

        def make(d: int) -> Any:
            doc: Any = Doc()
            m = doc.get("fields", type=Map)
            with doc.transaction():
                for j in range(nf):
                    m[keys[j]] = d * 100 + j if j % 2 == 0 else f"value {d}/{j}"
            return doc

    elif lib == "loro":

        def make(d: int) -> Any:
            doc = new_loro_doc()
            m = doc.get_map("fields")
            for j in range(nf):
                m.insert(keys[j], d * 100 + j if j % 2 == 0 else f"value {d}/{j}")
            doc.commit()
            return doc

    else:
        raise ValueError(lib)
    warm = make(0)
    del warm
    docs: list[Any] = []
    settle()
    before = rss_bytes()
    for d in range(nd):
        docs.append(make(d))
    settle()
    after = rss_bytes()
    assert len(docs) == nd
    return {"rss_delta": after - before, "rss_before": before, "rss_after": after}


def _memory_of(
    lib: str, nd: int, nf: int, children: int, key: str = "memory_mb"
) -> Callable[[], dict[str, float]]:
    def measure() -> dict[str, float]:
        deltas = [
            run_child("core_bench", "memory_child", lib, str(nd), str(nf))["rss_delta"]
            for _ in range(children)
        ]
        return {key: statistics.median(deltas) / 1e6}

    return measure


def _memory(sizes: CoreSizes) -> list[Figure]:
    nd, nf = sizes.mem_docs, sizes.mem_fields
    fig = Figure(
        "memory_mb",
        f"{nd:,} docs x {nf} fields, RSS, MB",
        "MB",
        decimals=1,
        reference={"pycrdt": 61.0, "loro": 117.0, "plain": 14.0},
    )
    for lib in ("synckit", "pycrdt", "loro", "plain"):
        progress(f"memory: {lib}")
        _guard([fig], lib, _memory_of(lib, nd, nf, sizes.mem_children))
    # The same documents after doc.compact(): each kept as its snapshot bytes until next
    # used (the peers have no such state, so only SyncKit is measured on this row).
    compacted = Figure(
        "memory_compact_mb",
        f"{nd:,} docs x {nf} fields after doc.compact(), RSS, MB",
        "MB",
        decimals=1,
    )
    progress("memory: synckit, compacted")
    _guard(
        [compacted],
        "synckit",
        _memory_of("synckit-compact", nd, nf, sizes.mem_children, compacted.key),
    )
    for f in (fig, compacted):
        f.target = "≤ 10 MB" if nd == 10_000 else f"≤ {10 * nd / 10_000:g} MB (10 MB per 10k docs)"
        f.limit = 10.0 * nd / 10_000
    return [fig, compacted]


def run_all(quick: bool = False) -> list[Figure]:
    sizes = QUICK if quick else CoreSizes()
    figs: list[Figure] = []
    for part in (_field_set, _batch, _merge, _merge_typing, _changes, _memory):
        figs.extend(part(sizes))
    return figs


if __name__ == "__main__":
    for f in run_all(quick="--quick" in sys.argv):
        print(f.key, f.values, f.errors)
