"""Who is connecting, and what they may do: principals, access levels and grants.

A :class:`Principal` is what authentication produced for one connection: an id (a JWT's
``sub``), the grants its token carried, and when that token expires. Access to a document is
one of :data:`ACCESS_LEVELS`; an :data:`Action` needs at least the level of the same name.

Grants map document-id patterns to access levels (the ``synckit.docs`` claim, see
``docs/security.md``): ``*`` matches any run of characters and ``?`` any one. When several
patterns match, the most specific wins (the one with the most characters that are not
wildcards); between equally specific ones, the lower level wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from synckit.errors import InvalidValueError

__all__ = [
    "ACCESS_LEVELS",
    "ANONYMOUS",
    "Access",
    "Action",
    "Grant",
    "Principal",
    "access_allows",
    "parse_grants",
]

#: How much a principal may do to a document, weakest first.
Access = Literal["none", "read", "write", "admin"]
ACCESS_LEVELS: tuple[Access, ...] = ("none", "read", "write", "admin")
_RANK = {level: rank for rank, level in enumerate(ACCESS_LEVELS)}

#: What a connection does to a document: read (subscribe, view), write (push), admin.
Action = Literal["read", "write", "admin"]


def access_allows(access: Access, action: Action) -> bool:
    """Whether ``access`` is enough for ``action``."""
    return _RANK[access] >= _RANK[action]


@dataclass(frozen=True, slots=True)
class Grant:
    """``access`` to every document whose id matches ``pattern``."""

    pattern: str
    access: Access

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str) or not self.pattern:
            raise InvalidValueError("a grant's pattern must be a non-empty str")
        if self.access not in _RANK:
            raise InvalidValueError(
                f"access for {self.pattern!r} must be one of {', '.join(ACCESS_LEVELS)}, "
                f"got {self.access!r}"
            )

    @property
    def specificity(self) -> int:
        """How many characters of the pattern are not wildcards."""
        return sum(1 for ch in self.pattern if ch not in "*?")


def parse_grants(value: object, where: str = "grants") -> tuple[Grant, ...]:
    """Grants from a ``{pattern: access}`` mapping (the shape of the ``synckit.docs`` claim).

    Raises:
        ValueError: not a mapping of non-empty str patterns to access levels; the message
            names the entry.
    """
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"{where} must map document-id patterns to access levels")
    grants = []
    for pattern, access in value.items():
        if not isinstance(pattern, str) or not isinstance(access, str):
            raise InvalidValueError(
                f"{where}: {pattern!r}: {access!r} is not a str pattern and level"
            )
        try:
            grants.append(Grant(pattern, access))  # type: ignore[arg-type]
        except ValueError as exc:
            raise InvalidValueError(f"{where}: {exc}") from None
    return tuple(grants)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a connection authenticated as.

    Attributes:
        id: the principal's id (a token's ``sub``); ``""`` is the anonymous principal of an
            open server.
        grants: document access from the token; empty grants give no access (an open
            server's :data:`ANONYMOUS` principal carries ``* -> admin``).
        expires_at: when the token expires, in Unix seconds (None: it does not).
        claims: the token's verified claims (empty for an open server).
        leeway: seconds after ``expires_at`` that a session with the token still lasts (the
            clock tolerance the token was accepted with; the session ends with
            ``TOKEN_EXPIRED`` after that).
    """

    id: str
    grants: tuple[Grant, ...] = ()
    expires_at: float | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False)
    leeway: float = field(default=0.0, compare=False)

    def access(self, doc_id: str) -> Access:
        """The access the grants give to ``doc_id`` (see the module docs for the rule)."""
        best: Grant | None = None
        for grant in self.grants:
            if fnmatchcase(doc_id, grant.pattern) and (
                best is None
                or grant.specificity > best.specificity
                or (
                    grant.specificity == best.specificity
                    and _RANK[grant.access] < _RANK[best.access]
                )
            ):
                best = grant
        return "none" if best is None else best.access

    def may(self, doc_id: str, action: Action) -> bool:
        """Whether the grants allow ``action`` on ``doc_id``."""
        return access_allows(self.access(doc_id), action)


#: The principal of every connection to a server that runs without authentication.
ANONYMOUS = Principal("", (Grant("*", "admin"),))
