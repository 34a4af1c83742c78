"""JWT verification: every way a token can be wrong is refused with a reason."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from synckit.errors import AuthError, AuthUnavailableError, InvalidValueError, TokenExpiredError
from synckit.server import JwtVerifier

SECRET = "s" * 64
NOW = float(int(time.time()))


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": NOW + 86400, "synckit": {"docs": {"team-*": "write"}}, **extra}


def hs(payload: dict[str, Any], key: str | bytes = SECRET, **header: Any) -> str:
    return jwt.encode(payload, key, algorithm="HS256", headers=header or None)


def test_a_good_token_gives_its_principal_and_grants() -> None:
    verify = JwtVerifier.from_secret(SECRET)
    p = verify("any-client", hs(claims(synckit={"docs": {"team-*": "write"}, "admin": True})))
    assert p.id == "alice" and p.expires_at == NOW + 86400
    assert p.leeway == verify.leeway  # the session lasts as long as the token is accepted
    assert p.may("team-1", "write") and not p.may("team-1", "admin") and not p.may("x", "read")
    assert p.claims["synckit"]["admin"] is True


@pytest.mark.parametrize(
    ("token", "reason", "kind"),
    [
        (hs(claims(), "f" * 64), "bad signature", AuthError),
        (
            jwt.encode(claims(), SECRET, algorithm="HS512"),
            "algorithm 'HS512' is not accepted",
            AuthError,
        ),
        (
            jwt.encode(claims(), None, algorithm="none"),  # type: ignore[arg-type]
            "algorithm 'none' is not accepted",
            AuthError,
        ),
        (hs(claims(exp=NOW - 3600)), "expired", TokenExpiredError),
        (hs(claims(nbf=NOW + 3600)), "not valid yet", TokenExpiredError),
        (hs(claims(aud="other")), "wrong audience", AuthError),
        (hs(claims(iss="evil")), "wrong issuer", AuthError),
        (hs({"sub": "alice"}), "no 'exp'", AuthError),
        (hs({"exp": NOW + 3600}), "no 'sub'", AuthError),
        (
            hs(claims(synckit={"docs": {"*": "owner"}}, aud="synckit", iss="https://idp")),
            "synckit.docs",
            AuthError,
        ),
        ("not.a.jwt", "not a JWT", AuthError),
        ("", "no token", AuthError),
    ],
)
def test_bad_tokens_are_refused_with_their_reason(
    token: str, reason: str, kind: type[AuthError]
) -> None:
    verify = JwtVerifier.from_secret(SECRET, audience="synckit", issuer="https://idp")
    if reason in ("wrong audience", "wrong issuer"):
        token = hs(
            {
                **jwt.decode(token, options={"verify_signature": False}),
                **({"iss": "https://idp"} if reason == "wrong audience" else {"aud": "synckit"}),
            }
        )
    with pytest.raises(kind, match=reason) as info:
        verify("c", token)
    assert token not in str(info.value) or not token


def test_within_the_leeway_a_token_still_counts() -> None:
    verify = JwtVerifier.from_secret(SECRET, leeway=30)
    assert verify("c", hs(claims(exp=time.time() - 10))).id == "alice"


@pytest.mark.parametrize("exp", [10**400, 1e306, 2**1030], ids=["10**400", "1e306", "2**1030"])
def test_an_exp_beyond_any_clock_is_refused(exp: float) -> None:
    # Found by fuzzing (fuzz/corpus/jwt): PyJWT takes such an exp as "in the future", and the
    # principal's expiry (float seconds, then milliseconds in the Welcome) overflowed: an
    # OverflowError instead of an AuthError, or later in the hub's Welcome.
    verify = JwtVerifier.from_secret(SECRET)
    with pytest.raises(AuthError, match="'exp' is out of range"):
        verify("c", hs(claims(exp=exp)))


def rsa_pair() -> tuple[Any, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem


def test_public_keys_and_no_algorithm_confusion() -> None:
    private, pem = rsa_pair()
    verify = JwtVerifier.from_public_keys([pem], ["RS256"])
    assert verify("c", jwt.encode(claims(), private, algorithm="RS256")).id == "alice"
    # The public key used as an HMAC secret: refused by the pinned algorithm list.
    with pytest.raises(AuthError, match="HS256' is not accepted"):
        verify("c", hs(claims(), "k" * 64))
    with pytest.raises(InvalidValueError, match="does not fit algorithm HS256"):
        JwtVerifier.from_public_keys([pem], ["RS256", "HS256"])
    other, _ = rsa_pair()
    with pytest.raises(AuthError, match="bad signature"):
        verify("c", jwt.encode(claims(), other, algorithm="RS256"))


def test_a_kid_in_the_header_does_not_stop_keys_from_files() -> None:
    # Identity providers put a kid in every token; keys given as PEM files have none.
    first, first_pem = rsa_pair()
    second, second_pem = rsa_pair()
    verify = JwtVerifier.from_public_keys([first_pem, second_pem], ["RS256"])
    for private in (first, second):
        token = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "idp-2026"})
        assert verify("c", token).id == "alice"
    other, _ = rsa_pair()
    with pytest.raises(AuthError, match="bad signature"):
        verify("c", jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "idp-2026"}))


def test_a_key_set_fetched_in_the_background_asks_the_client_to_retry() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    fetched: list[int] = []
    release = threading.Event()

    def fetch() -> dict[str, Any]:
        release.wait(5)  # a slow identity provider
        fetched.append(1)
        return {"k1": key.public_key()}

    now = [0.0]
    verify = JwtVerifier(
        {}, ["ES256"], fetch_jwks=fetch, fetch_in_background=True, clock=lambda: now[0]
    )
    now[0] = 1e6  # long after the key set was read at start
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    with pytest.raises(AuthUnavailableError, match="retry shortly"):
        verify("c", token)
    release.set()
    deadline = time.monotonic() + 5
    while not fetched and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert verify("c", token).id == "alice"  # the client's retry gets in
    # A made-up kid while the key set was just read: refused for good, not "retry".
    made_up = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "nope"})
    with pytest.raises(AuthError, match="does not hold it") as refused:
        verify("c", made_up)
    assert not isinstance(refused.value, AuthUnavailableError)


def test_a_short_secret_is_refused_at_start() -> None:
    with pytest.raises(InvalidValueError, match="at least 32"):
        JwtVerifier.from_secret("short")


def test_jwks_file_is_read_again_for_an_unknown_kid(tmp_path: Path) -> None:
    first = ec.generate_private_key(ec.SECP256R1())
    second = ec.generate_private_key(ec.SECP256R1())

    def jwk(key: Any, kid: str) -> dict[str, Any]:
        entry = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        return {**entry, "kid": kid, "use": "sig"}

    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(first, "k1")]}))
    verify = JwtVerifier.from_jwks(path, ["ES256"], jwks_refresh=0)
    token = jwt.encode(claims(), first, algorithm="ES256", headers={"kid": "k1"})
    assert verify("c", token).id == "alice"
    rotated = jwt.encode(claims(), second, algorithm="ES256", headers={"kid": "k2"})
    with pytest.raises(AuthError, match="unknown key id 'k2'"):
        verify("c", rotated)
    path.write_text(json.dumps({"keys": [jwk(first, "k1"), jwk(second, "k2")]}))
    assert verify("c", rotated).id == "alice"  # the rotated set was read again
    # A token signed by one key but naming another is a bad signature.
    lying = jwt.encode(claims(), second, algorithm="ES256", headers={"kid": "k1"})
    with pytest.raises(AuthError, match="bad signature"):
        verify("c", lying)


def test_the_jwks_is_not_read_again_more_often_than_allowed(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": []}))
    reads = 0
    verify = JwtVerifier.from_jwks(path, ["ES256"], jwks_refresh=60)
    original = verify._fetch
    assert original is not None

    def counting() -> Any:
        nonlocal reads
        reads += 1
        return original()

    verify._fetch = counting
    verify._clock = lambda: 1e12  # long after the first read
    for i in range(50):
        with pytest.raises(AuthError, match="unknown key id"):
            verify("c", jwt.encode(claims(), key, algorithm="ES256", headers={"kid": f"x{i}"}))
    assert reads == 1
