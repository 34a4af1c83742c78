"""A seeded, in-process network simulation of SyncKit.

The real :class:`~synckit.client.SyncEngine` replicas and the real server
:class:`~synckit.server.Hub` talk through a FAKE network (the only fake part): every frame may
be dropped, duplicated or delayed (so frames reorder), links are cut at random, the server
crashes (its memory is thrown away; only its store survives) and clients restart from their
stores. The server's storage work runs a random number of steps late (the hub queues it; the
simulation performs it), so acknowledgements wait for commits and crashes catch changes that
memory held and storage did not. Then the network heals and every replica must converge with
the server, and nothing the server ever acknowledged may be missing from its store.

With ``deletes=True`` one replica also deletes one document at a random moment (retrying after
its own restarts): once healed, the server keeps the tombstone and no data of it, every replica
dropped it (whether it was connected then or came back later), and the rest converged.

Everything random comes from one ``random.Random(seed)``, and time is simulated, so a seed
reproduces exactly: ``.venv/bin/python tests/sim/simnet.py SEED`` replays one and prints its
figures (``--deletes``: with a deletion).
"""

from __future__ import annotations

import itertools
import random
import sys
from collections import Counter
from dataclasses import dataclass, field

from synckit.client import MemoryStore as ClientStore
from synckit.client import SyncEngine
from synckit.core import Document, VersionVector
from synckit.errors import DocumentDeletedError
from synckit.protocol import Ack
from synckit.server import Connection, Hub, Limits, perform_io
from synckit.server import MemoryStore as ServerStore

#: Edit kinds of :meth:`Simulation._edit`: field set, field delete, counter, text insert, text
#: delete, list insert/delete, set add/discard, multi-field update, nested containers (8).
ALL_OPS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8)
#: Only containers (counter, text, list, set): no last-writer-wins fields.
CONTAINER_OPS: tuple[int, ...] = (2, 3, 4, 5, 6)


@dataclass
class Faults:
    drop: float = 0.02
    duplicate: float = 0.02
    min_delay: float = 0.001
    max_delay: float = 0.08
    cut: float = 0.01
    server_crash: float = 0.002
    client_restart: float = 0.004


@dataclass
class _Link:
    conn: Connection
    # (arrival time, tie-break, frame)
    to_server: list[tuple[float, int, bytes]] = field(default_factory=list)
    to_client: list[tuple[float, int, bytes]] = field(default_factory=list)
    closing_at: float | None = None


@dataclass
class _Replica:
    name: str
    actor: str
    store: ClientStore
    engine: SyncEngine
    link: _Link | None = None


class Simulation:
    def __init__(
        self,
        seed: int,
        *,
        clients: int | None = None,
        faults: Faults | None = None,
        ops: tuple[int, ...] = ALL_OPS,
        deletes: bool = False,
    ):
        self.seed = seed
        self.ops = ops
        self.deletes = deletes
        # The deletion asked (replica name, document), once asked.
        self.deletion: tuple[str, str] | None = None
        self.rng = random.Random(seed)
        self.faults = faults or Faults()
        self.now = 0.0
        self.stats: Counter[str] = Counter()
        self.doc_ids = [f"doc-{i}" for i in range(self.rng.randint(1, 2))]
        self.server_store = ServerStore()
        # live_docs 1 keeps at most one open document decoded: with two documents the
        # server compacts one and wakes it again all the time.
        self.limits = Limits(
            compact_every=self.rng.choice([2, 7, 50]), live_docs=self.rng.choice([1, 1024])
        )
        self.hub = Hub(limits=self.limits)
        # Storage work waits a random number of steps (0 to 3): acks, broadcasts and answers
        # wait for it, and a crash loses whatever memory held beyond it.
        self.storage_lag = self.rng.choice([0, 1, 3])
        self._tie = 0
        # Highest server version acknowledged per document, over the whole run.
        self.acked: dict[str, VersionVector] = {d: VersionVector() for d in self.doc_ids}
        n = clients if clients is not None else self.rng.randint(2, 5)
        self.replicas = []
        for i in range(n):
            actor = f"c{i}~{self.rng.getrandbits(32):08x}"
            store = ClientStore()
            self.replicas.append(_Replica(f"c{i}", actor, store, self._engine(store, actor)))

    # -- plumbing ---------------------------------------------------------------------

    def _clock(self) -> int:
        return int(self.now * 1000)

    def _engine(self, store: ClientStore, actor: str) -> SyncEngine:
        engine = SyncEngine(
            store,
            actor,
            response_timeout=1.0,
            ping_interval=0.4,
            compact_every=self.rng.choice([3, 20]),
            clock=self._clock,
            on_deleted=lambda doc_id, error: self.stats.update(["told_deleted"]),
        )
        for doc_id in self.doc_ids:
            try:
                engine.open(doc_id)
            except DocumentDeletedError:
                self.stats["reopen_refused"] += 1
        return engine

    def _send(self, queue: list[tuple[float, int, bytes]], frame: bytes, faulty: bool) -> None:
        self.stats["frames"] += 1
        copies = 1
        if faulty:
            if self.rng.random() < self.faults.drop:
                self.stats["dropped"] += 1
                return
            if self.rng.random() < self.faults.duplicate:
                self.stats["duplicated"] += 1
                copies = 2
        for _ in range(copies):
            delay = self.rng.uniform(self.faults.min_delay, self.faults.max_delay)
            self._tie += 1
            queue.append((self.now + delay, self._tie, frame))

    def _pump(self, faulty: bool) -> None:
        """Move queued frames from every endpoint onto the wire."""
        for rep in self.replicas:
            rep.engine.flush()
            link = rep.link
            frames = rep.engine.data_to_send()
            if link is None:
                continue
            for frame in frames:
                self._send(link.to_server, frame, faulty)
            for frame in link.conn.take_frames():
                self._send(link.to_client, frame, faulty)
            if (rep.engine.closing or link.conn.closed) and link.closing_at is None:
                self.stats["sessions_ended_by_error"] += 1
                # The session ended: the transport closes once frames in flight are through.
                link.closing_at = self.now + self.faults.max_delay

    def _deliver(self) -> None:
        for rep in self.replicas:
            link = rep.link
            if link is None:
                continue
            for queue, to_server in ((link.to_server, True), (link.to_client, False)):
                due = sorted(item for item in queue if item[0] <= self.now)
                if not due:
                    continue
                queue[:] = [item for item in queue if item[0] > self.now]
                ties = [tie for _, tie, _ in due]
                self.stats["reordered"] += sum(a > b for a, b in itertools.pairwise(ties))
                for _, _, frame in due:
                    if rep.link is not link:
                        break
                    if to_server:
                        self.hub.receive(link.conn, frame)
                    else:
                        for event in rep.engine.receive(frame, self.now):
                            if isinstance(event, Ack):
                                v = VersionVector.decode(event.server_version)
                                self.acked[event.doc_id] = self.acked[event.doc_id].merge(v)
                                self.stats["acks"] += 1
            if link.closing_at is not None and self.now >= link.closing_at:
                self._cut(rep)

    def _store_some(self, everything: bool = False) -> None:
        """Perform the hub's queued storage work: all of it, or a random part."""
        hub = self.hub
        budget = None if everything or not self.storage_lag else self.rng.randint(0, 4)
        while budget is None or budget > 0:
            op = hub.next_io()
            if op is None:
                return
            self.stats["storage_ops"] += 1
            hub.io_done(op, perform_io(op, self.server_store))
            if budget is not None:
                budget -= 1

    def _connect(self, rep: _Replica) -> None:
        if rep.link is not None:
            return
        rep.link = _Link(self.hub.connect())
        rep.engine.connection_made(self.now)
        self.stats["connects"] += 1

    def _cut(self, rep: _Replica) -> None:
        link = rep.link
        if link is None:
            return
        rep.link = None
        self.hub.disconnect(link.conn)
        rep.engine.connection_lost()

    # -- faults and edits -------------------------------------------------------------

    def _crash_server(self) -> None:
        self.stats["server_crashes"] += 1
        if not self.hub.io_idle:
            self.stats["crashes_with_unstored_work"] += 1
        for rep in self.replicas:
            self._cut(rep)
        # Memory is gone; what was committed must still be there.
        self.check_durable()
        self.hub = Hub(limits=self.limits)

    def _restart_client(self, rep: _Replica) -> None:
        self.stats["client_restarts"] += 1
        self._cut(rep)
        rep.engine = self._engine(rep.store, rep.actor)
        if self.deletion is not None and self.deletion[0] == rep.name:
            doc_id = self.deletion[1]
            if not rep.store.is_deleted(doc_id):
                rep.engine.ask_delete(doc_id)  # the app asks again: not kept across restarts

    def _maybe_delete(self) -> None:
        if not self.deletes or self.deletion is not None or self.rng.random() > 0.01:
            return
        rep = self.rng.choice(self.replicas)
        doc_id = self.rng.choice(self.doc_ids)
        self.deletion = (rep.name, doc_id)
        self.stats["deletions_asked"] += 1
        rep.engine.ask_delete(doc_id)

    def _edit(self, rep: _Replica) -> None:
        open_ids = [d for d in self.doc_ids if rep.engine.document(d) is not None]
        if not open_ids:
            return
        doc = rep.engine.document(self.rng.choice(open_ids))
        assert doc is not None
        rng = self.rng
        kind = rng.choice(self.ops)
        self.stats["edits"] += 1
        if rng.random() < 0.05:
            # An app compacting a document it holds: the next use decodes it in place.
            self.stats["client_compactions"] += 1
            doc.compact()
        if kind == 0:
            doc.set(f"k{rng.randrange(4)}", rng.randrange(100))
        elif kind == 1:
            doc.delete(f"k{rng.randrange(4)}")
        elif kind == 2:
            doc.get_counter("n").increment(rng.randint(-3, 5))
        elif kind == 3:
            text = doc.get_text("t")
            text.insert(rng.randint(0, len(text)), rng.choice(["a", "bc", "xyz", "é"]))
        elif kind == 4:
            text = doc.get_text("t")
            if len(text):
                pos = rng.randrange(len(text))
                text.delete(pos, rng.randint(1, min(3, len(text) - pos)))
        elif kind == 5:
            items = doc.get_list("l")
            if len(items) and rng.random() < 0.3:
                items.delete(rng.randrange(len(items)))
            else:
                items.insert(rng.randint(0, len(items)), rng.randrange(10))
        elif kind == 6:
            members = doc.get_set("s")
            if rng.random() < 0.6:
                members.add(rng.randrange(6))
            else:
                members.discard(rng.randrange(6))
        elif kind == 8:
            self._edit_nested(doc)
        else:
            doc.update({"a": rng.randrange(5), "b": [rng.randrange(3)]})

    def _edit_nested(self, doc: Document) -> None:
        """A todo list of maps and a nested settings map: per-key merges, creation at one
        key on several replicas, deletes of containers others are editing."""
        rng = self.rng
        self.stats["nested_edits"] += 1
        todos = doc.get_list("todos")
        n = len(todos)
        r = rng.random()
        if n == 0 or r < 0.25:
            todos.insert_map(rng.randint(0, n)).set("title", rng.randrange(9))
        elif r < 0.5:
            todos.get_map(rng.randrange(n)).set(rng.choice(("title", "done")), rng.randrange(9))
        elif r < 0.6:
            todos.get_map(rng.randrange(n)).get_counter("votes").increment(1)
        elif r < 0.7:
            notes = todos.get_map(rng.randrange(n)).get_text("notes")
            notes.insert(rng.randint(0, len(notes)), rng.choice(("a", "bc")))
        elif r < 0.8:
            todos.delete(rng.randrange(n))
        elif r < 0.9:
            todos.move(rng.randrange(n), rng.randrange(n))
        elif r < 0.95:
            doc.get_map("settings").get_map("colors").set(rng.choice("xy"), rng.randrange(9))
        else:
            doc.get_map("settings").delete("colors")

    # -- running ----------------------------------------------------------------------

    def step(self, faulty: bool) -> None:
        rng, f = self.rng, self.faults
        self.now += rng.uniform(0.0, 0.03)
        if faulty:
            if rng.random() < f.server_crash:
                self._crash_server()
            for rep in self.replicas:
                if rep.link is not None and rng.random() < f.cut:
                    self.stats["cuts"] += 1
                    self._cut(rep)
                if rng.random() < f.client_restart:
                    self._restart_client(rep)
            for rep in self.replicas:
                if rep.link is None and rng.random() < 0.1:
                    self._connect(rep)
            for _ in range(rng.randint(0, 2)):
                self._edit(rng.choice(self.replicas))
            self._maybe_delete()
        else:
            for rep in self.replicas:
                self._connect(rep)
        for rep in self.replicas:
            if not rep.engine.tick(self.now):
                self.stats["timeouts"] += 1
                self._cut(rep)
        self._pump(faulty)
        self._deliver()
        if not self.storage_lag or not faulty or self.rng.random() < 1 / self.storage_lag:
            self._store_some(everything=not faulty)
        self._pump(faulty)

    def quiet(self) -> bool:
        if not self.hub.io_idle:
            return False
        for rep in self.replicas:
            if rep.link is None or not rep.engine.online or rep.engine.unsynced():
                return False
            if rep.link.to_server or rep.link.to_client:
                return False
            session = rep.engine.session
            if session is None or session.pending_batches:
                return False
            if any(not d.done and d.error is None for d in rep.engine._deletions.values()):
                return False  # a deletion not answered yet
        return True

    def run(self, steps: int = 250, heal_steps: int = 4000) -> Counter[str]:
        for _ in range(steps):
            self.step(faulty=True)
        for i in range(heal_steps):
            self.step(faulty=False)
            if self.quiet():
                self.stats["heal_steps"] = i
                break
        else:
            raise AssertionError(f"seed {self.seed}: no quiescence after healing; {self.stats}")
        self.check_converged()
        self.check_durable()
        self.check_deleted()
        return self.stats

    # -- checks -----------------------------------------------------------------------

    def stored_doc(self, doc_id: str) -> Document:
        """The document as the server's store holds it (what survives a crash)."""
        stored = self.server_store.load(doc_id)
        doc = Document("checker")
        if stored is None:
            return doc
        if stored.snapshot is not None:
            doc = Document.load(stored.snapshot, "checker")
        for batch in stored.changes:
            doc.apply(batch)
        return doc

    def deleted_ids(self) -> set[str]:
        """Documents the server's store holds a tombstone of."""
        return set(self.server_store._tombstones)

    def check_deleted(self) -> None:
        if self.deletion is None:
            return
        doc_id = self.deletion[1]
        assert self.deleted_ids() == {doc_id}, f"seed {self.seed}: {doc_id} was not deleted"
        # Nothing of it stored after the tombstone, whatever was pushed around it.
        assert doc_id not in self.server_store._docs, f"seed {self.seed}: {doc_id} came back"
        for rep in self.replicas:
            assert rep.engine.document(doc_id) is None, f"seed {self.seed}: {rep.name} kept it"
            assert rep.store.is_deleted(doc_id) and rep.store.load(doc_id) is None
            assert doc_id not in rep.engine.unsynced()

    def check_durable(self) -> None:
        for doc_id, acked in self.acked.items():
            if doc_id in self.deleted_ids():
                continue  # acknowledged, then deleted: gone on purpose
            held = self.stored_doc(doc_id).version()
            assert held.dominates(acked), (
                f"seed {self.seed}: acknowledged changes missing from the store of {doc_id}: "
                f"acked {acked}, stored {held}"
            )

    def check_converged(self) -> None:
        for doc_id in self.doc_ids:
            if doc_id in self.deleted_ids():
                continue
            server = self.stored_doc(doc_id)
            for rep in self.replicas:
                doc = rep.engine.document(doc_id)
                assert doc is not None
                assert doc.version() == server.version(), (
                    f"seed {self.seed}: {rep.name} {doc_id} at {doc.version()}, "
                    f"server at {server.version()}"
                )
                assert doc.to_json() == server.to_json(), (
                    f"seed {self.seed}: {rep.name} {doc_id} diverged: "
                    f"{doc.to_json()} != {server.to_json()}"
                )
                # Every edit a replica made is on the server.
                assert server.version()[rep.actor] == doc.version()[rep.actor]


if __name__ == "__main__":
    args = sys.argv[1:]
    ops = ALL_OPS
    deletes = "--deletes" in args
    args = [a for a in args if a != "--deletes"]
    if args and args[0].startswith("--ops="):
        ops = tuple(int(k) for k in args.pop(0)[6:].split(","))
    seeds = [int(a) for a in args] or list(range(300))
    total: Counter[str] = Counter()
    failed = []
    for seed in seeds:
        try:
            total += Simulation(seed, ops=ops, deletes=deletes).run()
        except AssertionError as exc:
            failed.append(seed)
            print(f"seed {seed} FAILED: {str(exc)[:300]}")
    print(f"{len(seeds) - len(failed)}/{len(seeds)} seeds converged: {dict(sorted(total.items()))}")
    print(f"failed seeds: {failed}")
