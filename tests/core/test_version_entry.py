"""``VersionVector.encode_entry`` writes exactly what ``encode`` makes of a one-entry vector
(the protobuf library's bytes), whatever the client id and seq."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from synckit.core import VersionVector

MAX_SEQ = 2**63 - 1


@given(st.text(min_size=1, max_size=300), st.integers(1, MAX_SEQ))
def test_one_entry_is_written_as_the_library_writes_it(client: str, seq: int) -> None:
    data = VersionVector.encode_entry(client, seq)
    assert data == VersionVector({client: seq}).encode()
    assert VersionVector.decode(data) == VersionVector({client: seq})


def test_lengths_past_one_varint_byte() -> None:
    for client, seq in (("x" * 127, 127), ("y" * 128, 128), ("é" * 200, MAX_SEQ)):
        assert VersionVector.encode_entry(client, seq) == VersionVector({client: seq}).encode()
