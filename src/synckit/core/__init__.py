"""The conflict-free core: documents, version vectors and their merge rules.

Pure data and rules: no I/O, no asyncio, and wall time only through the clock a document
is given, so everything here is deterministic under test.
"""

from synckit.core._codec import canonical_changes
from synckit.core._counter import Counter
from synckit.core._cursor import Bind, Cursor
from synckit.core._document import Document, wall_clock_ms
from synckit.core._events import ChangeEvent, Subscriber, TextEdit, Unsubscribe
from synckit.core._list import List
from synckit.core._map import Map
from synckit.core._orset import ORSet
from synckit.core._screen import ChangeReview, ChangeSummary, Equivocation, Screen
from synckit.core._snapshot_key import SnapshotKey
from synckit.core._text._handle import Text
from synckit.core._values import JSONInput, JSONScalar, JSONValue
from synckit.core._version import Ordering, VersionVector

__all__ = [
    "Bind",
    "ChangeEvent",
    "ChangeReview",
    "ChangeSummary",
    "Counter",
    "Cursor",
    "Document",
    "Equivocation",
    "JSONInput",
    "JSONScalar",
    "JSONValue",
    "List",
    "Map",
    "ORSet",
    "Ordering",
    "Screen",
    "SnapshotKey",
    "Subscriber",
    "Text",
    "TextEdit",
    "Unsubscribe",
    "VersionVector",
    "canonical_changes",
    "wall_clock_ms",
]
