"""Participants' lobby-events streams (SSE) held open by this process, and admissions
timed from `enter` on one server to the `accepted` event on another (lobby_admission.py
and curves.py)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from common import API, WaitingPlace

ACCEPTED = b'"status":"accepted"'
EVENT_TIMEOUT_S = 10.0


@dataclass
class Stream:
    place: WaitingPlace
    slug: str  # the room's
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    accepted: asyncio.Event = field(default_factory=asyncio.Event)
    accepted_at: float = 0.0
    error: str = ""


async def follow(base: str, stream: Stream) -> None:
    """Reads the participant's SSE stream with a bare socket (little client overhead)."""
    address = urlsplit(base)
    if address.hostname != "127.0.0.1":
        raise SystemExit(f"refusing a non-loopback server: {base}")
    try:
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
    except OSError as error:
        stream.error = f"connect: {error}"
        stream.opened.set()
        return
    try:
        writer.write(
            (
                f"GET {API}/rooms/{stream.slug}/lobby-events/ HTTP/1.1\r\n"
                f"Host: {address.netloc}\r\n"
                f"Cookie: lobbyParticipantId={stream.place.cookie}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        seen = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                if not stream.opened.is_set():
                    stream.error = "closed before the first event"
                    stream.opened.set()
                return
            seen = seen[-4096:] + chunk if stream.opened.is_set() else seen + chunk
            if not stream.opened.is_set():
                if b"\r\n\r\n" in seen and not seen.startswith(b"HTTP/1.1 200"):
                    stream.error = seen[:300].decode(errors="replace")
                    stream.opened.set()
                    return
                if b'"status":"waiting"' in seen:
                    stream.opened.set()
            if ACCEPTED in seen:
                stream.accepted_at = time.perf_counter()
                stream.accepted.set()
                return
    finally:
        writer.close()


async def open_streams(
    base: str, streams: list[Stream], concurrency: int, timeout_s: float = 300
) -> list[asyncio.Task[None]]:
    """Opens the streams `concurrency` at a time (each waits for its first event);
    exits with the first refusal."""
    readers: list[asyncio.Task[None]] = []
    async with asyncio.timeout(timeout_s):
        for first in range(0, len(streams), concurrency):
            batch = streams[first : first + concurrency]
            readers += [asyncio.create_task(follow(base, s)) for s in batch]
            await asyncio.gather(*(stream.opened.wait() for stream in batch))
    refused = [stream.error for stream in streams if stream.error]
    if refused:
        for reader in readers:
            reader.cancel()
        raise SystemExit(f"{len(refused)} streams refused, e.g. {refused[0]}")
    return readers


async def admit(admin: httpx.AsyncClient, streams: list[Stream]) -> tuple[list[float], list[float]]:
    """Admits each stream's participant in turn with `enter` (through `admin`, the owner's
    client on the other server); returns (enter -> accepted event, enter response) in s."""
    latencies, responses = [], []
    for stream in streams:
        body = {"participant_id": stream.place.id, "allow_entry": True}
        start = time.perf_counter()
        answer = await admin.post(f"{API}/rooms/{stream.slug}/enter/", json=body)
        responses.append(time.perf_counter() - start)
        if answer.status_code != 200:
            raise SystemExit(f"enter answered {answer.status_code}: {answer.text}")
        async with asyncio.timeout(EVENT_TIMEOUT_S):
            await stream.accepted.wait()
        latencies.append(stream.accepted_at - start)
    return latencies, responses
