"""The service's HS256 check against the official SDK's `TokenVerifier`: on the same
tokens, made by the SDK and by hand with PyJWT (the SDK's own JWT library), both accept
the same ones with the same claims, and refuse the same ones."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest

from antechamber.livekit.hs256 import InvalidToken, sign, verify
from livekit import api

KEY = "APIkey123"
SECRET = "a-secret-of-sixty-four-characters-0123456789abcdefghijklmnopqrst"


def _by_hand(claims: dict[str, Any], *, secret: str = SECRET, **header: Any) -> str:
    algorithm = header.pop("alg", "HS256")
    return jwt.encode(claims, secret, algorithm=algorithm, headers=header or None)


def _sdk(**changes: Any) -> str:
    token = api.AccessToken(KEY, SECRET).with_identity("alice").with_name("Alice")
    token = token.with_grants(api.VideoGrants(room_join=True, room="r1", can_publish=False))
    token = token.with_attributes({"is_authenticated": "true"})
    if "ttl" in changes:
        token = token.with_ttl(changes["ttl"])
    return token.to_jwt()


def _other_spelling(token: str) -> str:
    """The same signature bytes, with the last character's unused bits set."""
    head, _, signature = token.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])  # 43 characters: the last carries 2 unused bits
    return f"{head}.{signature[:-1]}{alphabet[last ^ 1]}"


def _with_plus_or_slash() -> str:
    """A token whose signature has "-" or "_", spelled with "+" or "/" instead."""
    for n in range(200):
        token = _by_hand(_valid(sub=f"alice-{n}"))
        head, _, signature = token.rpartition(".")
        if "-" in signature or "_" in signature:
            return f"{head}.{signature.replace('-', '+').replace('_', '/')}"
    raise AssertionError("no signature with - or _ in 200 tokens")


def _swap_payload(token: str, payload: bytes) -> str:
    header, _, signature = token.split(".")
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def _now() -> int:
    """Read when each token is made: the module is imported long before its tests run."""
    return int(time.time())


def _valid(**changes: Any) -> dict[str, Any]:
    now = _now()
    return {"iss": KEY, "sub": "alice", "nbf": now, "exp": now + 600, **changes}


TOKENS: dict[str, Callable[[], str]] = {
    "the SDK's token": lambda: _sdk(),
    "the SDK's token, 2 hours": lambda: _sdk(ttl=timedelta(hours=2)),
    "the SDK's token, expired 5 minutes ago": lambda: _sdk(ttl=timedelta(minutes=-5)),
    "the SDK's token, expired 30 s ago (leeway)": lambda: _sdk(ttl=timedelta(seconds=-30)),
    "minimal": lambda: _by_hand(_valid()),
    "float times": lambda: _by_hand(_valid(exp=_now() + 600.5, nbf=_now() - 0.5)),
    "no nbf": lambda: _by_hand({"iss": KEY, "exp": _now() + 60}),
    "no exp": lambda: _by_hand({"iss": KEY, "nbf": _now()}),
    "exp not a number": lambda: _by_hand(_valid(exp=[1])),
    "nbf in 5 minutes": lambda: _by_hand(_valid(nbf=_now() + 300)),
    "nbf in 30 s (leeway)": lambda: _by_hand(_valid(nbf=_now() + 30)),
    "iat in 5 minutes": lambda: _by_hand(_valid(iat=_now() + 300)),
    "iat now": lambda: _by_hand(_valid(iat=_now())),
    "another issuer": lambda: _by_hand(_valid(iss="someone-else")),
    "no issuer": lambda: _by_hand({"exp": _now() + 60}),
    "an audience": lambda: _by_hand(_valid(aud="livekit")),
    "another secret": lambda: _by_hand(_valid(), secret="x" * 64),
    "HS512": lambda: _by_hand(_valid(), alg="HS512"),
    "alg none": lambda: jwt.encode(_valid(), "", algorithm="none"),
    "an extra header": lambda: _by_hand(_valid(), kid="k1"),
    "payload swapped": lambda: _swap_payload(_sdk(), b'{"iss":"APIkey123","exp":9999999999}'),
    "signature cut": lambda: _sdk()[:-4],
    "two parts": lambda: ".".join(_sdk().split(".")[:2]),
    "four parts": lambda: _sdk() + ".x",
    "not base64": lambda: "!!!." + _sdk().split(".", 1)[1],
    "empty": lambda: "",
    "a word": lambda: "hello",
    # Found by review: where a hand-made token could tell the two apart.
    "signature padded": lambda: _sdk() + "==",
    "signature's unused bits set": lambda: _other_spelling(_sdk()),
    "signature with + or /": _with_plus_or_slash,
    "exp NaN": lambda: _by_hand(_valid(exp=float("nan"))),
    "exp infinite": lambda: _by_hand(_valid(exp=float("inf"))),
    "exp a huge integer": lambda: _by_hand(_valid(exp=10**400)),
    "exp a numeric string": lambda: _by_hand(_valid(exp=str(_now() + 600))),
    "exp a word": lambda: _by_hand(_valid(exp="later")),
    "a crit header": lambda: _by_hand(_valid(), crit=["exp"]),
    "sub a number": lambda: _by_hand(_valid(sub=5)),
    "jti a number": lambda: _by_hand(_valid(jti=5)),
    "an empty aud": lambda: _by_hand(_valid(aud="")),
    "a null aud": lambda: _by_hand(_valid(aud=None)),
    "iss a lone surrogate": lambda: _by_hand(_valid(iss="\ud800")),
}


def _sdk_verdict(token: str) -> dict[str, Any] | None:
    try:
        claims = api.TokenVerifier(KEY, SECRET).verify(token)
    except Exception:  # noqa: BLE001 - PyJWT's and the SDK's errors alike
        return None
    return {"sub": claims.identity, "name": claims.name, "attributes": claims.attributes}


def _our_verdict(token: str) -> dict[str, Any] | None:
    try:
        claims = verify(token, SECRET.encode(), KEY)
    except InvalidToken:
        return None
    return {
        "sub": claims.get("sub", ""),
        "name": claims.get("name", ""),
        "attributes": claims.get("attributes", {}),
    }


@pytest.mark.parametrize("case", TOKENS)
def test_it_accepts_and_refuses_what_the_sdk_does(case: str) -> None:
    token = TOKENS[case]()
    assert _our_verdict(token) == _sdk_verdict(token)


def test_the_matrix_has_both_verdicts() -> None:
    accepted = {case for case, make in TOKENS.items() if _our_verdict(make()) is not None}
    assert accepted == {
        "the SDK's token",
        "the SDK's token, 2 hours",
        "the SDK's token, expired 30 s ago (leeway)",
        "minimal",
        "float times",
        "no nbf",
        "nbf in 30 s (leeway)",
        "iat now",
        "an extra header",
        "exp a huge integer",
        "exp a numeric string",
        "an empty aud",
        "a null aud",
    }


def test_the_sdk_reads_what_it_signs() -> None:
    claims = {"iss": KEY, "sub": "bob", "exp": _now() + 60, "video": {"roomAdmin": True}}
    token = sign(claims, SECRET.encode())
    read = api.TokenVerifier(KEY, SECRET).verify(token)
    assert read.identity == "bob"
    assert read.video is not None
    assert read.video.room_admin is True
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
