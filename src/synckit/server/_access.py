"""Live permission changes: who publishes them, and server-side rules that change at run time.

A principal's access can change while it is connected: an administrator revokes it, or the
application's own rules (behind an ``authorize`` hook) change. Whoever changes access publishes
an :class:`AccessChange` on an :class:`AccessFeed`; every server listening on that feed asks
its ``authorize`` question again for the open subscriptions the change may concern and tells
each connection whose access to a document changed (``PERMISSION_CHANGED``), without a
reconnect. :class:`LocalAccessFeed` reaches the servers of one process; a feed over a message
bus (Redis, for several processes) implements the same two methods.

:class:`AccessRules` is the built-in source of such changes: per-principal grants held by the
server that take precedence over the grants in a principal's token, changed with
:meth:`AccessRules.set` (or the admin endpoint) and published on its feed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from synckit.errors import InvalidTypeError, InvalidValueError
from synckit.server._principal import Access, Action, Grant, Principal, access_allows, parse_grants

__all__ = [
    "AccessChange",
    "AccessFeed",
    "AccessListener",
    "AccessRules",
    "LocalAccessFeed",
    "access_level",
]


@dataclass(frozen=True, slots=True)
class AccessChange:
    """Access may have changed for ``principal`` (None: any principal) on ``doc_id`` (None:
    any document).

    A change made through :class:`AccessRules` also carries the new rules (``rules_set``:
    True; ``rules``: the JSON text of ``{pattern: level}``, or None when the principal went
    back to its token's grants), so that every server on the feed holds the same rules
    before it asks its questions again.
    """

    principal: str | None = None
    doc_id: str | None = None
    rules_set: bool = False
    rules: str | None = None

    def concerns(self, principal: str, doc_id: str) -> bool:
        return (self.principal is None or self.principal == principal) and (
            self.doc_id is None or self.doc_id == doc_id
        )


#: Called with every change published on a feed.
AccessListener = Callable[[AccessChange], None]


class AccessFeed(Protocol):
    """Carries :class:`AccessChange` notices to every server that listens."""

    def publish(self, change: AccessChange) -> None:
        """Tell every listener (of every server on this feed) about ``change``."""
        ...

    def subscribe(self, listener: AccessListener) -> Callable[[], None]:
        """Call ``listener`` with every change published from now on; returns an unsubscribe."""
        ...


class LocalAccessFeed:
    """An :class:`AccessFeed` within one process: listeners are called at once, in order."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: list[AccessListener] = []

    def publish(self, change: AccessChange) -> None:
        for listener in tuple(self._listeners):
            listener(change)

    def subscribe(self, listener: AccessListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe


def access_level(may: Callable[[Action], bool]) -> Access:
    """The highest level whose action ``may`` allows (``"none"`` when not even read)."""
    levels: tuple[Action, ...] = ("admin", "write", "read")
    for level in levels:
        if may(level):
            return level
    return "none"


class AccessRules:
    """Grants kept by the server, per principal, that replace the grants of its tokens.

    Use it as the ``authorize`` hook (it is callable). A principal with rules set here gets
    exactly those; one without gets what its token grants. Every :meth:`set` publishes an
    :class:`AccessChange` for that principal, so its open connections learn at once.

    Args:
        feed: where changes are published (a :class:`LocalAccessFeed` when None).
    """

    __slots__ = ("_rules", "feed")

    def __init__(self, feed: AccessFeed | None = None) -> None:
        self.feed: AccessFeed = feed if feed is not None else LocalAccessFeed()
        self._rules: dict[str, tuple[Grant, ...]] = {}
        # Subscribed first, so that rules set on another server are held here before the
        # servers' listeners (subscribed later) ask again.
        self.feed.subscribe(self._heard)

    def _heard(self, change: AccessChange) -> None:
        """Take rules published on the feed (by this or another server)."""
        principal = change.principal
        if not change.rules_set or principal is None:
            return
        if change.rules is None:
            self._rules.pop(principal, None)
            return
        try:
            docs = json.loads(change.rules)
            self._rules[principal] = parse_grants(docs, f"access rules of {principal!r}")
        except ValueError:
            return  # not from a SyncKit server: AccessRules.set checks what it publishes

    def set(self, principal: str, docs: Mapping[str, Access] | None) -> None:
        """Replace ``principal``'s grants by ``docs`` (``{pattern: level}``, as in the token
        claim; ``{}`` grants nothing); None goes back to the token's grants.

        Raises:
            ValueError: ``docs`` is not a mapping of patterns to access levels.
        """
        if not isinstance(principal, str):
            raise InvalidTypeError(f"principal must be a str, got {type(principal).__name__}")
        if docs is None:
            self._rules.pop(principal, None)
            text = None
        else:
            self._rules[principal] = parse_grants(docs, f"access rules of {principal!r}")
            text = json.dumps(dict(docs), sort_keys=True)
        self.feed.publish(AccessChange(principal, rules_set=True, rules=text))

    def load(self, stored: Mapping[str, str]) -> None:
        """Take the rules a store kept (principal -> JSON text of ``{pattern: level}``),
        replacing those held; publishes a change for every principal concerned.

        Raises:
            ValueError: a stored entry is not valid JSON of that shape.
        """
        rules = {}
        for principal, text in stored.items():
            try:
                docs = json.loads(text)
            except ValueError as exc:
                raise InvalidValueError(f"stored access rules of {principal!r}: {exc}") from None
            rules[principal] = parse_grants(docs, f"stored access rules of {principal!r}")
        changed = set(rules) | set(self._rules)
        self._rules = rules
        for principal in sorted(changed):
            self.feed.publish(AccessChange(principal))

    @staticmethod
    def encode(docs: Mapping[str, Access]) -> str:
        """``docs`` as the JSON text a store keeps (checked first).

        Raises:
            ValueError: not a mapping of patterns to access levels.
        """
        parse_grants(docs, "access rules")
        return json.dumps(dict(docs), sort_keys=True)

    def grants(self, principal: str) -> tuple[Grant, ...] | None:
        """The grants set for ``principal`` here (None: its token's apply)."""
        return self._rules.get(principal)

    def authorize(self, principal: Principal, doc_id: str, action: Action) -> bool:
        """The ``authorize`` hook: these rules for principals that have some, else the token's."""
        grants = self._rules.get(principal.id)
        if grants is None:
            return principal.may(doc_id, action)
        return access_allows(Principal(principal.id, grants).access(doc_id), action)

    __call__ = authorize
