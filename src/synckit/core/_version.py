"""Version vectors: which operations of each client a replica holds.

A replica holds a gap-free prefix of each client's operations, so a version is fully
described by one number per client: the highest sequence number held (0 = none).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping

from google.protobuf.message import DecodeError as _ProtoDecodeError

from synckit.core._wire import varint
from synckit.errors import DecodeError, InvalidTypeError
from synckit.v1 import changes_pb2

__all__ = ["Ordering", "VersionVector"]

_MAX_SEQ = 2**63 - 1


class Ordering(enum.StrEnum):
    """How two versions relate: the answer of :meth:`VersionVector.compare`."""

    BEFORE = "before"
    AFTER = "after"
    EQUAL = "equal"
    CONCURRENT = "concurrent"


class VersionVector(Mapping[str, int]):
    """An immutable map from client id to the highest sequence number held of it.

    Clients absent from the map count as 0. Instances compare with ``==``, hash, and
    order causally with :meth:`compare`.
    """

    __slots__ = ("_seqs",)

    _seqs: dict[str, int]

    def __init__(self, seqs: Mapping[str, int] | None = None) -> None:
        clean: dict[str, int] = {}
        if seqs:
            for client, seq in seqs.items():
                if not isinstance(client, str) or not client:
                    raise InvalidTypeError(
                        f"version vector client ids must be non-empty str: {client!r}"
                    )
                if type(seq) is not int or seq < 0 or seq > _MAX_SEQ:
                    raise InvalidTypeError(f"version vector seq of {client!r} must be an int >= 0")
                if seq:
                    clean[client] = seq
        self._seqs = clean

    @classmethod
    def _trusted(cls, seqs: dict[str, int]) -> VersionVector:
        """Wrap ``seqs`` (all values > 0) without copying or checking it."""
        vv = cls.__new__(cls)
        vv._seqs = seqs
        return vv

    def __getitem__(self, client: str) -> int:
        return self._seqs.get(client, 0)

    def __contains__(self, client: object) -> bool:
        return client in self._seqs

    def __iter__(self) -> Iterator[str]:
        return iter(self._seqs)

    def __len__(self) -> int:
        return len(self._seqs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, VersionVector):
            return self._seqs == other._seqs
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._seqs.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{c!r}: {s}" for c, s in sorted(self._seqs.items()))
        return f"VersionVector({{{inner}}})"

    def compare(self, other: VersionVector) -> Ordering:
        """Say whether this version is before, after, equal to or concurrent with ``other``.

        ``BEFORE`` means every operation held here is held by ``other`` and ``other`` has more.
        """
        mine, theirs = self._seqs, other._seqs
        less = greater = False
        for client in mine.keys() | theirs.keys():
            a, b = mine.get(client, 0), theirs.get(client, 0)
            if a < b:
                less = True
            elif a > b:
                greater = True
            if less and greater:
                return Ordering.CONCURRENT
        if less:
            return Ordering.BEFORE
        if greater:
            return Ordering.AFTER
        return Ordering.EQUAL

    def dominates(self, other: Mapping[str, int]) -> bool:
        """True when this version holds everything ``other`` holds."""
        mine = self._seqs
        return all(mine.get(c, 0) >= s for c, s in other.items())

    def total(self) -> int:
        """How many operations this version holds: the sum of its seqs (a later version of
        the same replica holds ``later.total() - earlier.total()`` more)."""
        return sum(self._seqs.values())

    def merge(self, other: VersionVector) -> VersionVector:
        """The least version holding everything either holds."""
        merged = dict(self._seqs)
        for client, seq in other._seqs.items():
            if seq > merged.get(client, 0):
                merged[client] = seq
        return VersionVector._trusted(merged)

    def encode(self) -> bytes:
        """Protobuf ``synckit.v1.Version`` bytes; :meth:`decode` reads them back."""
        seqs = self._seqs
        clients = sorted(seqs)
        msg = changes_pb2.Version(clients=clients, seqs=[seqs[c] for c in clients])
        return msg.SerializeToString()

    @staticmethod
    def encode_entry(client: str, seq: int) -> bytes:
        """What :meth:`encode` makes of a vector of the one entry ``client: seq`` (seq > 0),
        without building the vector or a message: a server tells each pusher this much
        after every push."""
        name = client.encode()
        packed = varint(seq)
        return b"".join((b"\n", varint(len(name)), name, b"\x12", varint(len(packed)), packed))

    @classmethod
    def decode(cls, data: bytes, *, max_entries: int | None = None) -> VersionVector:
        """Read bytes made by :meth:`encode`. ``max_entries``: refuse a vector of more client
        ids than this before building it (a server bounds what one message may cost it).

        Raises:
            DecodeError: the bytes are not a valid encoded version vector, or hold more than
                ``max_entries`` client ids.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidTypeError(f"VersionVector.decode takes bytes, got {type(data).__name__}")
        msg = changes_pb2.Version()
        try:
            msg.ParseFromString(bytes(data))
        except _ProtoDecodeError as exc:
            raise DecodeError(f"version vector: not a protobuf Version message ({exc})") from None
        if max_entries is not None and len(msg.clients) > max_entries:
            raise DecodeError(
                f"version vector: {len(msg.clients)} client ids, more than the "
                f"{max_entries} allowed"
            )
        if len(msg.clients) != len(msg.seqs):
            raise DecodeError(
                f"version vector: {len(msg.clients)} client ids but {len(msg.seqs)} seqs"
            )
        seqs: dict[str, int] = {}
        for client, seq in zip(msg.clients, msg.seqs, strict=True):
            if not client:
                raise DecodeError("version vector: empty client id")
            if client in seqs:
                raise DecodeError(f"version vector: client {client!r} appears twice")
            if seq > _MAX_SEQ:
                raise DecodeError(f"version vector: seq {seq} of {client!r} out of range")
            if seq:
                seqs[client] = seq
        return cls._trusted(seqs)
