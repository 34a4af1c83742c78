"""JSON views of containers, nested ones included, and the paths change events report.

A container's JSON view: a map is a dict (sorted keys), a list a list, a text a str, a
counter an int, a set a list of its members. A map key or list item holding a nested
container shows that container's view, however deep. Views are fresh objects: changing
them never changes the document.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from synckit.core._host import DELETED
from synckit.core._ids import ContainerId
from synckit.core._values import JSONValue, clone_json

if TYPE_CHECKING:
    from synckit.core._host import Host

__all__ = ["label_of", "path_of", "render", "render_list", "render_map", "render_value"]


def render(doc: Host, cid: ContainerId, kind: int) -> JSONValue:
    """The JSON view of container ``cid`` of child kind ``kind`` (empty when unwritten)."""
    if kind == 1:
        return render_map(doc, cid)
    if kind == 2:
        return render_list(doc, cid)
    if kind == 3:
        text = doc._texts.get(cid)
        return str(text) if text is not None else ""
    if kind == 4:
        return doc._counters.get(cid, 0)
    members = doc._sets.get(cid)
    return list(members) if members is not None else []


def render_value(doc: Host, map_id: ContainerId, key: str, value: Any) -> JSONValue:
    """The JSON view of what a map's ``key`` holds (a value, or a nested container)."""
    from synckit.core._map import Child

    if type(value) is Child:
        return render(doc, (map_id, key, value.epoch), value.kind)
    return clone_json(value)


def render_map(doc: Host, cid: ContainerId) -> dict[str, JSONValue]:
    """The JSON view of map ``cid``."""
    state = doc._maps.get(cid)
    if state is None:
        return {}
    return {key: render_value(doc, cid, key, value) for key, value in state.visible()}


def render_list(doc: Host, cid: ContainerId) -> list[JSONValue]:
    """The JSON view of list ``cid``."""
    from synckit.core._map import Child

    state = doc._lists.get(cid)
    if state is None:
        return []
    out: list[JSONValue] = []
    for item_id, item in state.visible_items():
        value: Any = item.value
        if type(value) is Child:
            out.append(render(doc, (cid, item_id), value.kind))
        else:
            out.append(clone_json(value))
    return out


def path_of(doc: Host, cid: ContainerId) -> tuple[str | int, ...] | None:
    """Where container ``cid`` is now: its top-level name, then a key per map and an index
    per list on the way down. None when it is not shown (its key was overwritten or
    deleted, its list item deleted)."""
    from synckit.core._map import Child

    steps: list[str | int] = []
    while type(cid) is tuple:
        parent = cid[0]
        if len(cid) == 3:
            state = doc._maps.get(parent)
            entry = state.entries.get(cid[1]) if state is not None else None
            value = entry[4] if entry is not None else DELETED
            if type(value) is not Child or value.epoch != cid[2]:
                return None
            steps.append(cid[1])
        else:
            lst = doc._lists.get(parent)
            index = lst.index_of(cid[1]) if lst is not None else None
            if index is None:
                return None
            steps.append(index)
        cid = parent
    steps.append(cid)  # type: ignore[arg-type]
    steps.reverse()
    return tuple(steps)


def label_of(doc: Host, cid: ContainerId) -> str:
    """A str that names container ``cid`` the same way on every replica (cursors carry it):
    a top-level container's name; for a nested one, "\\x00" and a JSON array that leads to
    it, with client id strings (never this replica's client indexes)."""
    if type(cid) is not tuple:
        return cid  # type: ignore[return-value]
    return "\x00" + json.dumps(_chain(doc, cid), separators=(",", ":"))


def _chain(doc: Host, cid: ContainerId) -> Any:
    if type(cid) is not tuple:
        return cid
    clients = doc._clients
    parent = _chain(doc, cid[0])
    if len(cid) == 3:
        epoch = cid[2]
        if epoch is None:
            return [parent, cid[1], None, 0]
        return [parent, cid[1], clients[epoch[0]], epoch[1]]
    return [parent, clients[cid[1][0]], cid[1][1]]
