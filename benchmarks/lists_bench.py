"""Lists benchmarks: SyncKit's list container side by side with pycrdt and loro.

One document per library and workload, each operation its own change (pycrdt: its own
implicit transaction; loro: ``commit()`` after it), state built outside the timed region:
inserts at random positions, appends, moves, deletes, sets inside the maps of a list of maps,
a two-replica merge after 1,000 mixed list operations on each side, and the bytes per
operation of the full update. SyncKit uses ``Document.get_list``; pycrdt an ``Array`` (of
``Map`` for the nested sets); loro a ``LoroList`` (of ``LoroMap``), and a ``LoroMovableList``
where moves are involved (a plain ``LoroList`` cannot move). pycrdt's ``Array`` has no move:
its move figure is n/a, and in the merge its replicas move an item as a Yjs app does, by
deleting it and inserting it again. README.md says exactly what each figure is.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from _measure import Figure, best_of, ms, new_loro_doc, progress
from core_bench import _exchange_loro, _exchange_pycrdt, _exchange_synckit, _guard

INSERT, MOVE, DELETE, APPEND = 0, 1, 2, 3
# (INSERT, index, value) | (MOVE, from, to) | (DELETE, index, 0) | (APPEND, 0, value)
Op = tuple[int, int, int]
FieldSet = tuple[int, str, bool | str]  # (item index, "done" | "title", value)
Run = Callable[[Any], Any]

#: Printed under the table by run.py.
NOTES = [
    "pycrdt's Array has no move (its move figure is n/a); in the merge row its replicas move"
    " an item by deleting it and inserting it again in one transaction, as a Yjs app does."
    " loro: LoroList for insert/append/delete/nested sets, LoroMovableList for move and merge.",
]


@dataclass(frozen=True)
class ListSizes:
    inserts: int = 10_000
    appends: int = 10_000
    items: int = 10_000  # the list the moves and deletes work on
    moves: int = 2_000
    deletes: int = 5_000
    maps: int = 100
    sets: int = 10_000
    merge_items: int = 1_000
    merge_ops: int = 1_000
    repeat: int = 5
    merge_repeat: int = 15


QUICK = ListSizes(
    inserts=1_000,
    appends=1_000,
    items=1_000,
    moves=200,
    deletes=500,
    maps=20,
    sets=1_000,
    merge_items=100,
    merge_ops=100,
    repeat=2,
    merge_repeat=2,
)

# --------------------------------------------------------------------------- scripts


def _move_pair(rng: random.Random, n: int) -> tuple[int, int]:
    """A random ``(from, to)`` in a list of ``n`` items, ``to != from`` (a real move)."""
    i = rng.randrange(n)
    j = rng.randrange(n - 1)
    return i, j + (j >= i)


def _mixed(seed: int, base: list[int], n: int, first: int) -> tuple[list[Op], list[int], set[int]]:
    """``n`` seeded list operations on ``base`` (1/2 insert, 1/4 move, 1/4 delete, indices
    uniform over the list as it is then), new values counting from ``first``; the resulting
    list and the items moved."""
    rng = random.Random(seed)
    model, ops, moved = list(base), [], set()
    for k in range(n):
        r = rng.random()
        if r < 0.5 or len(model) < 2:
            i = rng.randrange(len(model) + 1)
            ops.append((INSERT, i, first + k))
            model.insert(i, first + k)
        elif r < 0.75:
            i, j = _move_pair(rng, len(model))
            ops.append((MOVE, i, j))
            model.insert(j, model.pop(i))
            moved.add(model[j])
        else:
            i = rng.randrange(len(model))
            ops.append((DELETE, i, 0))
            del model[i]
    return ops, model, moved


def _plain(ops: list[Op], base: list[int]) -> list[int]:
    lst = list(base)
    for kind, i, j in ops:
        if kind == APPEND:
            lst.append(j)
        elif kind == INSERT:
            lst.insert(i, j)
        elif kind == MOVE:
            lst.insert(j, lst.pop(i))
        else:
            del lst[i]
    return lst


# --------------------------------------------------------------------------- each library
# For each library: a fresh document holding ``values`` in list "l" (appended one by one,
# each its own change), the timed loops, how to read the list back, and the full update.


def _sk_doc(values: list[int], cid: str = "bench-a") -> Any:
    from synckit import Document

    doc = Document(cid)
    append = doc.get_list("l").append
    for v in values:
        append(v)
    return doc


def _py_doc(values: list[int], cid: int = 1) -> Any:
    from pycrdt import Array, Doc

    doc: Any = Doc(client_id=cid)
    arr = doc.get("l", type=Array)
    for v in values:
        arr.append(v)  # one implicit transaction each
    return doc


def _py_list(doc: Any) -> Any:
    from pycrdt import Array

    return doc.get("l", type=Array)


def _lo_doc(values: list[int], movable: bool = False, cid: int = 1) -> Any:
    doc = new_loro_doc(cid)
    lst = doc.get_movable_list("l") if movable else doc.get_list("l")
    for v in values:
        lst.push(v)
        doc.commit()
    return doc


def _lo_full(doc: Any) -> int:
    import loro
    from loro import ExportMode

    module: Any = loro
    return len(doc.export(ExportMode.Updates(module.VersionVector())))


Setup = Callable[[], Any]
Runs = dict[str, tuple[Setup, Run, Run]]  # library -> (setup, timed loop, read the list back)
Method = Callable[[Any], Callable[..., Any]]  # document -> the bound method a loop calls


def _loop(method: Method, args: Sequence[tuple[int, ...]], commit: str = "") -> Run:
    """The timed loop: ``method(doc)(*a)`` for each ``a`` of ``args``; with ``commit`` "each"
    (loro) ``doc.commit()`` after every call, with "end" once after the last."""

    def run(doc: Any) -> Any:
        call = method(doc)
        if commit == "each":
            done = doc.commit
            for a in args:
                call(*a)
                done()
        else:
            for a in args:
                call(*a)
            if commit == "end":
                doc.commit()
        return doc

    return run


def _ops(
    figs: list[Figure],
    sizes: ListSizes,
    expect: list[Any],
    runs: Runs,
    count: int,
    full: dict[str, Callable[[Any], int]] | None = None,
) -> None:
    """Time each library's loop (``count`` ops) on fresh state; the list read back must equal
    ``expect`` (the plain-list replay). ``figs[0]`` gets µs/op; with ``full``, ``figs[1]`` the
    full update's bytes per op."""
    for lib, (setup, run, read) in runs.items():

        def measure(lib: str = lib, setup: Setup = setup, run: Run = run, read: Run = read) -> Any:
            t, state = best_of(run, setup, sizes.repeat)
            assert list(read(state)) == expect, f"{figs[0].key}: wrong list after the run"
            out = {figs[0].key: t / count / 1000}
            if full is not None and lib in full:
                out[figs[1].key] = full[lib](state) / count
            return out

        progress(f"{figs[0].key}: {lib}")
        _guard(figs, lib, measure)


def _runs(
    start: list[int], args: Sequence[tuple[int, ...]], names: tuple[str, str, str], loro_commit: str
) -> Runs:
    """Each library's setup (a list of ``start``), timed loop and read-back; ``names``: the
    method SyncKit's List, pycrdt's Array ("": it has none) and loro's list call with
    ``args`` (loro's delete takes a count too). loro's list is a LoroMovableList for "mov"."""
    sk_name, py_name, lo_name = names
    movable = lo_name == "mov"

    def lo_list(doc: Any) -> Any:
        return doc.get_movable_list("l") if movable else doc.get_list("l")

    lo_args = [(*a, 1) for a in args] if lo_name == "delete" else args
    runs: Runs = {
        "synckit": (
            lambda: _sk_doc(start),
            _loop(lambda doc: getattr(doc.get_list("l"), sk_name), args),
            lambda doc: doc.get_list("l"),
        ),
        "pycrdt": (
            lambda: _py_doc(start),
            _loop(lambda doc: getattr(_py_list(doc), py_name), args),
            lambda doc: _py_list(doc).to_py(),
        ),
        "loro": (
            lambda: _lo_doc(start, movable),
            _loop(lambda doc: getattr(lo_list(doc), lo_name), lo_args, loro_commit),
            lambda doc: lo_list(doc).to_vec(),
        ),
    }
    if loro_commit == "end":  # the extra row: loro alone
        return {"loro": runs["loro"]}
    if not py_name:
        del runs["pycrdt"]
    return runs


def _list_ops(sizes: ListSizes) -> list[Figure]:
    rng = random.Random(1)
    n, na, items = sizes.inserts, sizes.appends, sizes.items
    inserts = [(INSERT, rng.randrange(k + 1), rng.randrange(100)) for k in range(n)]
    appends = [(APPEND, 0, rng.randrange(100)) for _ in range(na)]
    moves = [(MOVE, *_move_pair(rng, items)) for _ in range(sizes.moves)]
    deletes = [(DELETE, rng.randrange(items - k), 0) for k in range(sizes.deletes)]
    base = list(range(items))
    f_ins = Figure(
        "insert_us", f"insert at random positions, µs/op ({n:,} into an empty list)", "µs/op"
    )
    f_ins_nc = Figure("insert_nocommit_us", "  … loro without a commit per op", "µs/op")
    f_app = Figure("append_us", f"append, µs/op ({na:,} to an empty list)", "µs/op")
    f_mov = Figure("move_us", f"move, µs/op ({sizes.moves:,} in a {items:,}-item list)", "µs/op")
    f_del = Figure(
        "delete_us",
        f"delete at random positions, µs/op ({sizes.deletes:,} from a {items:,}-item list)",
        "µs/op",
    )
    f_ins_b = Figure(
        "insert_bytes", f"full update after the {n:,} random inserts, bytes/op", "B/op", 1
    )
    f_app_b = Figure("append_bytes", f"full update after the {na:,} appends, bytes/op", "B/op", 1)
    full: dict[str, Callable[[Any], int]] = {
        "synckit": lambda doc: len(doc.changes()),
        "pycrdt": lambda doc: len(doc.get_update()),
        "loro": _lo_full,
    }
    at = [(i, v) for _, i, v in inserts]
    ins = ("insert", "insert", "insert")
    _ops([f_ins, f_ins_b], sizes, _plain(inserts, []), _runs([], at, ins, "each"), n, full)
    _ops([f_ins_nc], sizes, _plain(inserts, []), _runs([], at, ins, "end"), n)
    app = _runs([], [(v,) for _, _, v in appends], ("append", "append", "push"), "each")
    _ops([f_app, f_app_b], sizes, _plain(appends, []), app, na, full)
    mov = _runs(base, [(i, j) for _, i, j in moves], ("move", "", "mov"), "each")
    _ops([f_mov], sizes, _plain(moves, base), mov, len(moves))
    f_mov.values["pycrdt"] = None  # n/a: pycrdt's Array has no move
    dels = _runs(base, [(i,) for _, i, _ in deletes], ("delete", "__delitem__", "delete"), "each")
    _ops([f_del], sizes, _plain(deletes, base), dels, len(deletes))
    f_ins.target, f_ins.limit = "≤ loro's", f_ins.values.get("loro")
    return [f_ins, f_ins_nc, f_app, f_mov, f_del, f_ins_b, f_app_b]


# --------------------------------------------------------------------------- nested sets


def _nested(sizes: ListSizes) -> list[Figure]:
    n, nm = sizes.sets, sizes.maps
    rng = random.Random(2)
    script: list[FieldSet] = []
    for k in range(n):
        i = rng.randrange(nm)
        script.append((i, "done", rng.random() < 0.5) if k % 2 else (i, "title", f"task {k}"))
    start: list[dict[str, bool | str]] = [{"done": False, "title": f"item {i}"} for i in range(nm)]
    expect = [dict(m) for m in start]
    for i, key, value in script:
        expect[i][key] = value
    fig = Figure(
        "nested_set_us", f"set in a list item's map, µs/op ({n:,} sets, {nm} maps)", "µs/op"
    )
    fig_nc = Figure("nested_set_nocommit_us", "  … loro without a commit per op", "µs/op")

    def sk_setup() -> Any:
        from synckit import Document

        doc = Document("bench-a")
        lst = doc.get_list("l")
        for i, fields in enumerate(start):
            m = lst.insert_map(i)
            for key, value in fields.items():
                m.set(key, value)
        return doc

    def sk_run(doc: Any) -> Any:
        get_map = doc.get_list("l").get_map
        for i, key, value in script:
            get_map(i).set(key, value)
        return doc

    def py_setup() -> Any:
        from pycrdt import Map

        doc = _py_doc([])
        arr = _py_list(doc)
        for fields in start:
            arr.append(Map(fields))
        return doc

    def py_run(doc: Any) -> Any:
        arr = _py_list(doc)
        for i, key, value in script:
            arr[i][key] = value  # one implicit transaction each
        return doc

    def lo_setup() -> Any:
        import loro

        module: Any = loro  # LoroMap's constructor is untyped in loro's stubs
        doc = new_loro_doc(1)
        lst = doc.get_list("l")
        for i, fields in enumerate(start):
            m = lst.insert_container(i, module.LoroMap())
            for key, value in fields.items():
                m.insert(key, value)
            doc.commit()
        return doc

    def lo_run(doc: Any) -> Any:
        get, commit = doc.get_list("l").get, doc.commit
        for i, key, value in script:
            get(i).container.insert(key, value)
            commit()
        return doc

    def lo_run_nc(doc: Any) -> Any:
        get = doc.get_list("l").get
        for i, key, value in script:
            get(i).container.insert(key, value)
        doc.commit()
        return doc

    def lo_read(doc: Any) -> Any:
        return doc.get_deep_value()["l"]

    runs: Runs = {
        "synckit": (sk_setup, sk_run, lambda doc: doc.to_json()["l"]),
        "pycrdt": (py_setup, py_run, lambda doc: _py_list(doc).to_py()),
        "loro": (lo_setup, lo_run, lo_read),
    }
    _ops([fig], sizes, expect, runs, n)
    _ops([fig_nc], sizes, expect, {"loro": (lo_setup, lo_run_nc, lo_read)}, n)
    fig.target, fig.limit = "≤ loro's", fig.values.get("loro")
    return [fig, fig_nc]


# --------------------------------------------------------------------------- merge


def _merge(sizes: ListSizes) -> list[Figure]:
    n, nb = sizes.merge_ops, sizes.merge_items
    base = list(range(nb))
    ops_a, model_a, moved_a = _mixed(3, base, n, 100_000)
    ops_b, model_b, moved_b = _mixed(4, base, n, 200_000)
    # Every item is in the merged list exactly once, unless either replica deleted it; an
    # item one replica moved while the other deleted it may stay (loro: the move wins).
    kept_a, kept_b = set(model_a), set(model_b)
    survivors = [v for v in model_a if v >= nb or v in kept_b] + [v for v in model_b if v >= nb]
    moved_away = {v for v in (moved_a - kept_b) | (moved_b - kept_a) if v < nb}
    f_ms = Figure(
        "merge_ms",
        f"2-replica merge, ms ({nb:,}-item list, {n:,} inserts/moves/deletes each, both ways)",
        "ms",
    )
    f_bytes = Figure("merge_bytes", "  … its bytes A->B", "bytes", decimals=0)

    def measure(
        fork: Callable[[int], Any],
        calls: Callable[[Any], tuple[Callable[[int, int], Any], ...]],
        read: Callable[[Any], list[Any]],
        exchange: Callable[[Any], int],
        may_stay: set[int] | None,
        commit: bool = False,
    ) -> dict[str, float]:
        """``calls(doc)``: the insert, move and delete a replica's ops call with ``(i, j)``;
        ``may_stay``: the deleted items that may be kept (None: not checked)."""

        def setup() -> tuple[Any, Any]:
            a, b = fork(1), fork(2)
            for doc, ops in ((a, ops_a), (b, ops_b)):
                replay = calls(doc)
                for kind, i, j in ops:
                    replay[kind](i, j)
                    if commit:
                        doc.commit()
            return a, b

        t, size = best_of(exchange, setup, sizes.merge_repeat)
        a, b = setup()
        assert (read(a), read(b)) == (model_a, model_b), "a replica's list is wrong before merging"
        exchange((a, b))
        merged = read(a)
        assert merged == read(b), "the replicas' lists differ after the merge"
        extra, lost = Counter(merged) - Counter(survivors), Counter(survivors) - Counter(merged)
        assert not lost, f"the merged list lost items {sorted(lost)}"
        # pycrdt's moves are delete + insert: an item moved on both sides is there twice.
        if may_stay is not None:
            assert set(extra) <= may_stay and max(extra.values(), default=1) == 1, (
                f"the merged list kept deleted or duplicated items {sorted(extra)}"
            )
        return {f_ms.key: ms(t), f_bytes.key: size}

    def synckit() -> dict[str, float]:
        from synckit import Document

        snap = _sk_doc(base, "origin").save()

        def calls(doc: Any) -> Any:
            lst = doc.get_list("l")
            return lst.insert, lst.move, lambda i, _: lst.delete(i)

        def read(doc: Any) -> list[Any]:
            return list(doc.get_list("l"))

        fork = lambda k: Document.load(snap, f"replica-{k}")  # noqa: E731
        return measure(fork, calls, read, _exchange_synckit, set())  # a delete beats a move

    def pycrdt() -> dict[str, float]:
        from pycrdt import Doc

        update = _py_doc(base, 3).get_update()

        def fork(k: int) -> Any:
            doc: Any = Doc(client_id=k)
            doc.apply_update(update)
            return doc

        def calls(doc: Any) -> Any:
            arr = _py_list(doc)

            def move(i: int, j: int) -> None:
                with doc.transaction():  # Array has no move: delete + insert
                    arr.insert(j, arr.pop(i))

            return arr.insert, move, lambda i, _: arr.__delitem__(i)

        return measure(fork, calls, lambda d: _py_list(d).to_py(), _exchange_pycrdt, None)

    def loro() -> dict[str, float]:
        from loro import ExportMode

        snap = _lo_doc(base, movable=True, cid=3).export(ExportMode.Snapshot())

        def fork(k: int) -> Any:
            doc = new_loro_doc(k)
            doc.import_(snap)
            return doc

        def calls(doc: Any) -> Any:
            lst = doc.get_movable_list("l")
            return lst.insert, lst.mov, lambda i, _: lst.delete(i, 1)

        def read(doc: Any) -> list[Any]:
            return list(doc.get_movable_list("l").to_vec())

        return measure(fork, calls, read, _exchange_loro, moved_away, commit=True)

    for lib, fn in (("synckit", synckit), ("pycrdt", pycrdt), ("loro", loro)):
        progress(f"list merge: {lib}")
        _guard([f_ms, f_bytes], lib, fn)
    py = f_ms.values.get("pycrdt")
    f_ms.target, f_ms.limit = "≤ 2x pycrdt's", None if py is None else 2 * py
    return [f_ms, f_bytes]


def run_all(quick: bool = False) -> list[Figure]:
    sizes = QUICK if quick else ListSizes()
    figs: list[Figure] = []
    for part in (_list_ops, _nested, _merge):
        figs.extend(part(sizes))
    return figs


if __name__ == "__main__":
    for f in run_all(quick="--quick" in sys.argv):
        print(f.key, f.values, f.errors)
