"""Participants of the official real-time SDK, and waiting for what LiveKit does next."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from livekit import api, rtc
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET

# Bounds for what happens asynchronously, generous for a loaded machine: a pass is quick,
# a failure only takes longer to report.
CONNECT_TIMEOUT_S = 30.0
WAIT_TIMEOUT_S = 45.0


def sdk_token(identity: str, room: str, **grants: object) -> str:
    """A token minted in the test (not by Antechamber), for gateway tests."""
    video = api.VideoGrants(room_join=True, room=room, **grants)  # type: ignore[arg-type]
    return (
        api.AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_identity(identity)
        .with_name(identity.title())
        .with_grants(video)
        .to_jwt()
    )


@asynccontextmanager
async def connected(url: str, token: str) -> AsyncIterator[rtc.Room]:
    room = rtc.Room()
    await asyncio.wait_for(room.connect(url, token), CONNECT_TIMEOUT_S)
    try:
        yield room
    finally:
        await room.disconnect()


async def publish_microphone(room: rtc.Room) -> str:
    track = rtc.LocalAudioTrack.create_audio_track("mic", rtc.AudioSource(48000, 1))
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await asyncio.wait_for(
        room.local_participant.publish_track(track, options), CONNECT_TIMEOUT_S
    )
    return publication.sid


async def publish_screen_share(room: rtc.Room, timeout_s: float) -> str:
    track = rtc.LocalVideoTrack.create_video_track("screen", rtc.VideoSource(64, 64))
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_SCREENSHARE)
    publication = await asyncio.wait_for(
        room.local_participant.publish_track(track, options), timeout_s
    )
    return publication.sid


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Polls until `check` holds; LiveKit's webhooks and updates arrive asynchronously."""
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_TIMEOUT_S:.0f} s: {what}")
        await asyncio.sleep(0.1)
