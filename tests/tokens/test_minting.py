"""Tokens minted from prepared room parts are the SDK's own tokens."""

from __future__ import annotations

import datetime
import json
from base64 import urlsafe_b64decode
from typing import Any

import pytest
from livekit.api import AccessToken, RoomConfiguration, TokenVerifier, VideoGrants
from livekit.api.access_token import Claims

from antechamber.rooms.models import Role
from antechamber.tokens.grants import Grants, grants_for, video_claim
from antechamber.tokens.minting import Participant, TokenMinter

KEY, SECRET = "APIminting", "a-secret-of-at-least-thirty-two-characters"
TTL_S = 3600


def sdk_grants(grants: Grants) -> VideoGrants:
    """The same grants as the SDK's own dataclass (same field names)."""
    return VideoGrants(
        room_admin=grants.room_admin,
        room_join=grants.room_join,
        room=grants.room,
        can_publish=grants.can_publish,
        can_subscribe=grants.can_subscribe,
        can_publish_data=grants.can_publish_data,
        can_publish_sources=list(grants.can_publish_sources),
    )


def sdk_token(participant: Participant, grants: Grants, max_participants: int | None) -> str:
    token = AccessToken(KEY, SECRET)
    if max_participants:
        token = token.with_room_config(RoomConfiguration(max_participants=max_participants))
    return (
        token.with_identity(participant.identity)
        .with_name(participant.name)
        .with_ttl(datetime.timedelta(seconds=TTL_S))
        .with_grants(sdk_grants(grants))
        .with_attributes(
            {
                "color": participant.colour,
                "room_role": participant.room_role,
                "is_authenticated": "true" if participant.is_authenticated else "false",
            }
        )
        .to_jwt()
    )


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return tuple(
        json.loads(urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (header, payload)
    )


CASES = [
    (Participant("4f1c-anon", 'Zoé "the" guest', "hsl(1, 50%, 30%)", "", False), None, None),
    (Participant("dev|alice@example.com", "", "hsl(2, 60%, 40%)", "owner", True), Role.OWNER, 12),
    (Participant("bob", "Bob\u2028\u0000?", "hsl(3, 70%, 50%)", "member", True), Role.MEMBER, 2),
]


def test_it_mints_what_the_sdk_mints_from_a_part_prepared_once() -> None:
    minter = TokenMinter(KEY, SECRET, TTL_S)
    for participant, role, cap in CASES:
        grants = grants_for("a-room", role, ["microphone", "screen_share"])
        part = minter.prepare(grants, cap)
        for _ in range(3):  # the same prepared part for several tokens
            ours = minter.mint_for(part, participant)
            theirs = sdk_token(participant, grants, cap)
            (our_header, our_claims), (their_header, their_claims) = (
                segments(ours),
                segments(theirs),
            )
            assert our_header == their_header
            assert our_claims["exp"] - our_claims["nbf"] == TTL_S
            if our_claims["nbf"] == their_claims["nbf"]:  # minted in the same second
                assert ours == theirs  # byte for byte, signature included
            for claims in (our_claims, their_claims):
                claims.pop("nbf")
                claims.pop("exp")
            assert our_claims == their_claims
            checked = TokenVerifier(KEY, SECRET).verify(ours)
            assert checked.identity == participant.identity
            assert checked.name == participant.name
            assert checked.video == sdk_grants(grants)


def test_the_video_claim_is_the_sdks_for_every_role_and_sources() -> None:
    roles: list[Role | None] = [None, *Role]
    for role in roles:
        for sources in ([], ["microphone"], ["camera", "screen_share", "screen_share_audio"]):
            for room in ("a-room", ""):
                grants = grants_for(room, role, sources)
                theirs = Claims(video=sdk_grants(grants)).asdict()["video"]
                assert video_claim(grants) == theirs
                assert list(video_claim(grants)) == list(theirs)  # the same order


def test_it_refuses_a_token_without_identity() -> None:
    minter = TokenMinter(KEY, SECRET, TTL_S)
    part = minter.prepare(grants_for("a-room", None, []))
    with pytest.raises(ValueError, match="identity"):
        minter.mint_for(part, Participant("", "x", "hsl(1, 50%, 30%)", "", False))
