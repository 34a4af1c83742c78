"""JSON Web Tokens: who a connection is, verified with PyJWT.

A :class:`JwtVerifier` is an ``authenticate`` hook: ``verifier(client_id, token)`` returns the
token's :class:`~synckit.server.Principal` or raises :class:`~synckit.errors.AuthError` naming
what was wrong (never echoing the token). The keys are one of:

* a shared secret, for HS256/HS384/HS512;
* public keys in PEM (RSA for RS*/PS*, EC for ES*);
* a JWKS document, from a file or an http(s) URL, cached and fetched again when a token names
  a key id it does not hold (at most once per ``jwks_refresh`` seconds, so a flood of made-up
  key ids cannot hammer the key server).

The accepted algorithms are pinned by configuration and must fit the key type, so neither
``alg: none`` nor algorithm confusion (an HS256 token "signed" with a public key as its secret)
gets through. ``exp`` is required (unless ``require_exp=False``); ``exp``, ``nbf``, ``aud`` and
``iss`` are checked with ``leeway`` seconds of tolerance. The principal's id is ``sub``; its
grants come from the ``synckit.docs`` claim (``{"<doc-id pattern>": "read"|"write"|"admin"}``);
``synckit.admin: true`` makes it a server administrator (the admin endpoint).
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from synckit.errors import AuthError, AuthUnavailableError, InvalidValueError, TokenExpiredError
from synckit.server._principal import Principal, parse_grants

__all__ = ["HMAC_ALGORITHMS", "JwtVerifier"]

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = ("ES256", "ES384", "ES512")
_MIN_SECRET_BYTES = 32  # RFC 7518: an HS256 key at least as long as the hash


class JwtVerifier:
    """Verifies JWTs and turns them into principals; use it as ``authenticate``.

    Build it with one of :meth:`from_secret`, :meth:`from_public_keys` or :meth:`from_jwks`.

    Args:
        keys: ``kid -> key`` (the empty kid for a key that serves tokens without one).
        algorithms: the accepted ``alg`` values; each must fit every key.
        audience, issuer: when set, tokens must carry this ``aud`` / ``iss``.
        leeway: seconds of clock tolerance for ``exp``, ``nbf`` and ``iat``.
        require_exp: refuse tokens without ``exp`` (the default).
        fetch_jwks: reads the JWKS document again (for an unknown ``kid``); None: keys are fixed.
        jwks_refresh: the least number of seconds between two such reads.
        fetch_in_background: read it in a thread and refuse the token that asked for it
            (its client retries); a network fetch must not stall the server's event loop.
        clock: Unix time in seconds.
    """

    __slots__ = (
        "_background",
        "_clock",
        "_fetch",
        "_keys",
        "_last_fetch",
        "_lock",
        "algorithms",
        "audience",
        "issuer",
        "jwks_refresh",
        "leeway",
        "require_exp",
    )

    def __init__(
        self,
        keys: Mapping[str, Any],
        algorithms: Sequence[str],
        *,
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 30.0,
        require_exp: bool = True,
        fetch_jwks: Callable[[], Mapping[str, Any]] | None = None,
        jwks_refresh: float = 60.0,
        fetch_in_background: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        algorithms = tuple(algorithms)
        if not algorithms:
            raise InvalidValueError("name at least one accepted JWT algorithm")
        for alg in algorithms:
            if alg not in HMAC_ALGORITHMS + RSA_ALGORITHMS + EC_ALGORITHMS:
                raise InvalidValueError(
                    f"JWT algorithm {alg!r} is not accepted (none, and anything but HS*, RS*, "
                    "PS* and ES*, is refused)"
                )
        for kid, key in keys.items():
            _check_fits(key, algorithms, kid)
        self._keys = dict(keys)
        self.algorithms = algorithms
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self.require_exp = require_exp
        self._fetch = fetch_jwks
        self.jwks_refresh = jwks_refresh
        self._clock = clock
        self._last_fetch = clock() if fetch_jwks is not None else 0.0
        self._lock = threading.Lock()
        self._background = fetch_in_background

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_secret(
        cls, secret: str | bytes, algorithms: Sequence[str] = ("HS256",), **options: Any
    ) -> JwtVerifier:
        """Tokens signed with a shared ``secret`` (at least 32 bytes)."""
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(raw) < _MIN_SECRET_BYTES:
            raise InvalidValueError(
                f"the JWT secret is {len(raw)} bytes; use at least {_MIN_SECRET_BYTES} random "
                "bytes (for example: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return cls({"": raw}, algorithms, **options)

    @classmethod
    def from_public_keys(
        cls, pems: Sequence[str | bytes], algorithms: Sequence[str], **options: Any
    ) -> JwtVerifier:
        """Tokens signed by the private halves of these PEM public keys (tried in turn)."""
        keys: dict[str, Any] = {}
        for i, pem in enumerate(pems):
            data = pem.encode() if isinstance(pem, str) else pem
            try:
                keys[f"#{i}"] = load_pem_public_key(data)
            except ValueError as exc:
                raise InvalidValueError(
                    f"public key {i + 1} is not a PEM public key: {exc}"
                ) from None
        return cls(keys, algorithms, **options)

    @classmethod
    def from_jwks(
        cls, source: str | Path, algorithms: Sequence[str], **options: Any
    ) -> JwtVerifier:
        """Tokens signed by the keys of a JWKS document: a file path or an http(s) URL."""
        text = str(source)
        if text.startswith(("http://", "https://")):

            def fetch() -> Mapping[str, Any]:
                with urllib.request.urlopen(text, timeout=5) as response:
                    return _jwks_keys(json.loads(response.read()), text)

        else:
            path = Path(text)

            def fetch() -> Mapping[str, Any]:
                return _jwks_keys(json.loads(path.read_text()), text)

        try:
            keys = fetch()
        except (OSError, ValueError) as exc:
            raise InvalidValueError(f"cannot read the JWKS document {text}: {exc}") from None
        background = text.startswith(("http://", "https://"))
        return cls(keys, algorithms, fetch_jwks=fetch, fetch_in_background=background, **options)

    # -- verifying --------------------------------------------------------------------

    def __call__(self, client_id: str, token: str) -> Principal:
        """The principal of ``token`` (``client_id`` is not part of it).

        Raises:
            TokenExpiredError: expired, or not valid yet.
            AuthError: anything else wrong; the message says what.
        """
        return self.verify(token)

    def verify(self, token: str) -> Principal:
        """See :meth:`__call__`."""
        if not token:
            raise AuthError("authentication failed: no token (send a JWT in the Hello)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise AuthError("authentication failed: the token is not a JWT") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise AuthError(
                f"authentication failed: algorithm {str(alg)[:20]!r} is not accepted "
                f"(this server accepts {', '.join(self.algorithms)})"
            )
        kid = header.get("kid")
        keys, fetching = self._candidates(kid if isinstance(kid, str) else None)
        options: Any = {"require": ["exp", "sub"] if self.require_exp else ["sub"]}
        last: Exception | None = None
        for key in keys:
            try:
                claims = jwt.decode(
                    token,
                    key=key,
                    algorithms=[alg],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.leeway,
                    options=options,
                )
            except jwt.InvalidSignatureError as exc:
                last = exc
                continue
            except jwt.ExpiredSignatureError:
                raise TokenExpiredError("authentication failed: the token expired") from None
            except jwt.ImmatureSignatureError:
                raise TokenExpiredError(
                    "authentication failed: the token is not valid yet (nbf or iat in the "
                    "future; check the clocks)"
                ) from None
            except jwt.InvalidAudienceError:
                raise AuthError("authentication failed: wrong audience (aud)") from None
            except jwt.InvalidIssuerError:
                raise AuthError("authentication failed: wrong issuer (iss)") from None
            except jwt.MissingRequiredClaimError as exc:
                raise AuthError(f"authentication failed: the token has no {exc.claim!r}") from None
            except jwt.InvalidTokenError as exc:
                raise AuthError(f"authentication failed: {type(exc).__name__}") from None
            return _principal(claims, self.leeway)
        if last is not None:
            raise AuthError("authentication failed: bad signature")
        if fetching:
            # Only when this very token made the key set be fetched: a made-up kid within the
            # refresh interval is refused for good, not "retry" for ever.
            raise AuthUnavailableError(
                f"authentication pending: unknown key id {str(kid)[:40]!r}; the key set is "
                "being fetched again: retry shortly"
            )
        raise AuthError(
            f"authentication failed: unknown key id {str(kid)[:40]!r}"
            + (
                f" (the key set, read at most every {self.jwks_refresh:g} s, does not hold it)"
                if self._fetch
                else ""
            )
        )

    def _candidates(self, kid: str | None) -> tuple[list[Any], bool]:
        """The keys to try for a token with ``kid``, and whether the key set is being
        fetched again in the background for it."""
        if kid is None:
            return list(self._keys.values()), False
        key = self._keys.get(kid)
        fetching = False
        if key is None and self._fetch is not None:
            fetching = self._refetch()
            key = self._keys.get(kid)
        if key is None and "" in self._keys:
            key = self._keys[""]
        if key is None and self._fetch is None:
            # Keys from PEM files have no ids of their own: a token's kid names none of
            # them, so each is tried (a signature check decides).
            return list(self._keys.values()), False
        return ([] if key is None else [key]), fetching

    def _refetch(self) -> bool:
        """Read the JWKS document again, unless that was done less than ``jwks_refresh``
        seconds ago (an unreachable or bad document keeps the keys held); True when a read
        in the background was started now (its answer is not known yet)."""
        assert self._fetch is not None
        with self._lock:
            now = self._clock()
            if now - self._last_fetch < self.jwks_refresh:
                return False
            self._last_fetch = now
        if self._background:
            threading.Thread(target=self._read_keys, name="synckit-jwks", daemon=True).start()
            return True
        self._read_keys()
        return False

    def _read_keys(self) -> None:
        assert self._fetch is not None
        with self._lock:
            try:
                keys = dict(self._fetch())
                for kid, key in keys.items():
                    _check_fits(key, self.algorithms, kid)
            except (OSError, ValueError):
                return
            self._keys = keys


def _principal(claims: Mapping[str, Any], leeway: float) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise AuthError("authentication failed: 'sub' must be a non-empty string")
    section = claims.get("synckit", {})
    if not isinstance(section, Mapping):
        raise AuthError("authentication failed: the 'synckit' claim must be an object")
    try:
        grants = parse_grants(section.get("docs", {}), "the synckit.docs claim")
    except ValueError as exc:
        raise AuthError(f"authentication failed: {exc}") from None
    exp = claims.get("exp")
    # The session ends when the token is no longer accepted: at exp plus the leeway a new
    # connection with it would still get.
    expires = None
    if isinstance(exp, int | float):
        # PyJWT takes any exp in the future; one too large for float milliseconds (the Welcome
        # carries them) is no date at all.
        try:
            expires = float(exp)
        except OverflowError:
            expires = math.inf
        if not math.isfinite(expires * 1000):
            raise AuthError("authentication failed: 'exp' is out of range")
    return Principal(sub, grants, expires, dict(claims), leeway=leeway)


def _check_fits(key: Any, algorithms: Sequence[str], kid: str) -> None:
    """Refuse a key that does not fit every accepted algorithm (no algorithm confusion)."""
    name = f"key {kid!r}" if kid else "the key"
    for alg in algorithms:
        if alg in HMAC_ALGORITHMS:
            ok = isinstance(key, bytes)
        elif alg in RSA_ALGORITHMS:
            ok = isinstance(key, RSAPublicKey)
        else:
            ok = isinstance(key, EllipticCurvePublicKey)
        if not ok:
            raise InvalidValueError(
                f"{name} does not fit algorithm {alg}: HS* take a secret, RS*/PS* an RSA "
                "public key, ES* an EC public key"
            )


def _jwks_keys(document: Any, where: str) -> dict[str, Any]:
    """``kid -> public key`` of a JWKS document (secret ``oct`` keys are not taken)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise InvalidValueError(f"{where}: a JWKS document is an object with a 'keys' list")
    keys: dict[str, Any] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping) or entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            key = jwt.PyJWK(dict(entry)).key
        except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
            raise InvalidValueError(f"{where}: key {entry.get('kid')!r}: {exc}") from None
        keys[str(entry.get("kid", ""))] = key
    return keys
