"""Mints the LiveKit access token a participant joins with.

A LiveKit token is an HS256 JWT. What is the same for every token of a room and role (the
JWT header, the `video` grants, `roomConfig`, the issuer) is encoded once and kept in a
`RoomPart`; each token then only encodes its participant's fields and signs. The claims
are the ones the official SDK's `livekit.api.AccessToken.to_jwt` writes (same names, same
order, empty name left out), byte for byte, so the SDK's `TokenVerifier` and LiveKit read
them alike; tests compare tokens with the SDK's and check them with its verifier. The
SDK isn't imported here (see `grants.py`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from antechamber.livekit.hs256 import sign_payload
from antechamber.tokens.grants import Grants, video_claim

_encode = json.encoder.encode_basestring_ascii


@dataclass(frozen=True)
class Participant:
    identity: str
    name: str
    colour: str
    room_role: str  # "owner" | "administrator" | "member" | ""
    is_authenticated: bool


@dataclass(frozen=True)
class RoomPart:
    """The encoded claims every token for one room and set of grants shares."""

    video: str  # ',"video":{...}'
    room_config: str  # ',"roomConfig":{...}' or ""


class TokenMinter:
    def __init__(self, api_key: str, api_secret: str, ttl_s: int) -> None:
        self._key = api_secret.encode()
        self._ttl_s = ttl_s
        self._issuer = ',"iss":' + _encode(api_key)

    @staticmethod
    def prepare(grants: Grants, max_participants: int | None = None) -> RoomPart:
        """Encodes once what tokens with these grants share, as the SDK encodes it."""
        video = ',"video":' + json.dumps(video_claim(grants), separators=(",", ":"))
        room_config = ""
        if max_participants:
            # The SDK's `MessageToDict(RoomConfiguration(max_participants=n))`: a uint32,
            # a JSON number; a 0 (unset in proto3) leaves the claim out.
            room_config = ',"roomConfig":' + json.dumps(
                {"maxParticipants": max_participants}, separators=(",", ":")
            )
        return RoomPart(video, room_config)

    def mint(
        self, participant: Participant, grants: Grants, max_participants: int | None = None
    ) -> str:
        return self.mint_for(self.prepare(grants, max_participants), participant)

    def mint_for(self, room: RoomPart, participant: Participant) -> str:
        if not participant.identity:
            raise ValueError("identity and room must be set when joining a room")
        now = int(time.time())
        # The SDK's claim order: name (left out when empty), video, attributes, roomConfig,
        # then sub, iss, nbf, exp.
        name = '"name":' + _encode(participant.name) + "," if participant.name else ""
        payload = (
            "{"
            + name
            + room.video[1:]
            + ',"attributes":{"color":'
            + _encode(participant.colour)
            + ',"room_role":'
            + _encode(participant.room_role)
            + (
                ',"is_authenticated":"true"}'
                if participant.is_authenticated
                else ',"is_authenticated":"false"}'
            )
            + room.room_config
            + ',"sub":'
            + _encode(participant.identity)
            + self._issuer
            + f',"nbf":{now},"exp":{now + self._ttl_s}}}'
        )
        return sign_payload(payload.encode(), self._key)
