"""Micro-benchmark: LiveKit tokens minted per second in one process (no server, no I/O).

Three ways, each timed over `--tokens` tokens (best of `--repeat` runs), a new anonymous
identity per token as for GET of a public room:
  sdk        what minting cost before: livekit.api.AccessToken built and `to_jwt()` each
             time (grants built, claims encoded, PyJWT signing)
  mint       TokenMinter.mint: the room's part prepared for every token, then signed
  issue      TokenIssuer.issue, what the service calls: the room's part prepared once per
             room and role and reused, each token encodes its participant and signs
Every token of the last run of each way is checked with the SDK's TokenVerifier.

    uv run python bench/token_mint.py [--tokens 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime
import secrets
import time
import uuid
from collections.abc import Callable

from livekit.api import AccessToken, RoomConfiguration, TokenVerifier, VideoGrants

from antechamber.settings import LiveKitSettings, Settings
from antechamber.tokens.colour import colour_for
from antechamber.tokens.grants import grants_for
from antechamber.tokens.issuer import TokenIssuer
from antechamber.tokens.minting import Participant, TokenMinter

KEY = "bench-key"
SECRET = secrets.token_urlsafe(48)
ROOM = str(uuid.uuid4())
SOURCES = ["camera", "microphone", "screen_share", "screen_share_audio"]
TTL_S = 3600


def sdk_grants() -> VideoGrants:
    """The service's grants for an anonymous visitor, as the SDK's dataclass."""
    return VideoGrants(
        room_join=True,
        room=ROOM,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=list(SOURCES),
    )


def sdk(identity: str) -> str:
    token = AccessToken(KEY, SECRET).with_room_config(RoomConfiguration(max_participants=50))
    return (
        token.with_identity(identity)
        .with_name("Guest")
        .with_ttl(datetime.timedelta(seconds=TTL_S))
        .with_grants(sdk_grants())
        .with_attributes(
            {"color": colour_for(identity), "room_role": "", "is_authenticated": "false"}
        )
        .to_jwt()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    minter = TokenMinter(KEY, SECRET, TTL_S)
    settings = Settings(livekit=LiveKitSettings(api_key=KEY, api_secret=SECRET), token_ttl_s=TTL_S)
    issuer = TokenIssuer(settings)

    def mint(identity: str) -> str:
        participant = Participant(identity, "Guest", colour_for(identity), "", False)
        return minter.mint(participant, grants_for(ROOM, None, SOURCES), 50)

    def issue(identity: str) -> str:
        return issuer.issue(
            livekit_room=ROOM,
            identity=identity,
            name="Guest",
            role=None,
            is_authenticated=False,
            can_publish_sources=SOURCES,
            max_participants=50,
        ).token

    verifier = TokenVerifier(KEY, SECRET)
    ways: dict[str, Callable[[str], str]] = {"sdk": sdk, "mint": mint, "issue": issue}
    print(f"{options.tokens:,} tokens per run, best of {options.repeat}; one new identity each")
    print(f"{'way':<6} {'tokens/s':>10} {'µs/token':>9}  checked by the SDK")
    base = None
    for name, way in ways.items():
        best = float("inf")
        tokens: list[str] = []
        for _ in range(options.repeat):
            identities = [str(uuid.uuid4()) for _ in range(options.tokens)]
            started = time.perf_counter()
            tokens = [way(identity) for identity in identities]
            best = min(best, time.perf_counter() - started)
        checked = sum(
            1
            for identity, token in zip(identities, tokens, strict=True)
            if (claims := verifier.verify(token)).identity == identity
            and claims.video is not None
            and claims.video.room == ROOM
        )
        rate = options.tokens / best
        base = base or rate
        per_token_us = best / options.tokens * 1e6
        print(
            f"{name:<6} {rate:>10,.0f} {per_token_us:>9.1f}  "
            f"{checked:,} of {len(tokens):,}  (x{rate / base:.1f})"
        )


if __name__ == "__main__":
    main()
