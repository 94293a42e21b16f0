"""Faults the real server won't produce on demand, from the Twirp double: every call
gives the documented domain error within the time-out, never a hang."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from antechamber.errors import DomainError, NotFound, UpstreamError, UpstreamUnavailable
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.livekit.models import ParticipantPermission
from antechamber.livekit.twirp import TwirpLiveKitGateway
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET
from tests.livekit.twirp_double import Fault, TwirpDouble, twirp_double
from tests.servers import closed_port

# The slow-server test's time-out: short, so the test is quick. The double holds its
# answer for a minute, so giving up before `_fails_with`'s bound shows the time-out acted
# (a tighter bound would be a timing assertion a loaded machine can fail).
TIMEOUT_S = 0.5
# Every other test expects the double's answer: a time-out it can't reach on a loaded
# machine (0.5 s was, once: a 500 read as "unavailable").
ANSWER_TIMEOUT_S = 30.0

Call = Callable[[LiveKitGateway], Awaitable[object]]
CALLS: dict[str, Call] = {
    "ListRooms": lambda g: g.list_rooms(),
    "ListParticipants": lambda g: g.list_participants("r"),
    "GetParticipant": lambda g: g.get_participant("r", "alice"),
    "SendData": lambda g: g.send_data("r", b"x", destination_identities=["bob"]),
    "MutePublishedTrack": lambda g: g.mute_track("r", "alice", "TR_1", True),
    "UpdateParticipant": lambda g: g.update_participant(
        "r", "alice", permission=ParticipantPermission(can_subscribe=True)
    ),
    "RemoveParticipant": lambda g: g.remove_participant("r", "alice"),
    "UpdateRoomMetadata": lambda g: g.update_room_metadata("r", "{}"),
    "DeleteRoom": lambda g: g.delete_room("r"),
}


@pytest.fixture
async def double() -> AsyncIterator[TwirpDouble]:
    async with twirp_double() as double:
        yield double


@pytest.fixture
async def gateway(double: TwirpDouble) -> AsyncIterator[TwirpLiveKitGateway]:
    gateway = TwirpLiveKitGateway(double.url, LIVEKIT_KEY, LIVEKIT_SECRET, ANSWER_TIMEOUT_S)
    yield gateway
    await gateway.close()


@pytest.fixture
async def impatient_gateway(double: TwirpDouble) -> AsyncIterator[TwirpLiveKitGateway]:
    gateway = TwirpLiveKitGateway(double.url, LIVEKIT_KEY, LIVEKIT_SECRET, TIMEOUT_S)
    yield gateway
    await gateway.close()


async def _fails_with(call: Call, gateway: LiveKitGateway) -> DomainError:
    started = time.monotonic()
    with pytest.raises(DomainError) as caught:
        await call(gateway)
    # Never a hang: well within the longest time-out used here.
    assert time.monotonic() - started < ANSWER_TIMEOUT_S
    return caught.value


@pytest.mark.parametrize("method", CALLS)
async def test_it_sends_the_protocols_own_messages(
    method: str, double: TwirpDouble, gateway: TwirpLiveKitGateway
) -> None:
    await CALLS[method](gateway)
    [(received, message)] = double.received
    assert received == method
    assert getattr(message, "room", "r") == "r"


async def test_it_sends_exactly_what_was_asked(
    double: TwirpDouble, gateway: TwirpLiveKitGateway
) -> None:
    await gateway.send_data("r", b"payload", destination_identities=["bob"])
    await gateway.update_participant("r", "alice", name="Alice")
    (_, sent), (_, update) = double.received
    assert sent.data == b"payload"  # type: ignore[attr-defined]
    assert list(sent.destination_identities) == ["bob"]  # type: ignore[attr-defined]
    assert sent.kind == 0  # type: ignore[attr-defined]  # RELIABLE
    assert len(sent.nonce) == 16  # type: ignore[attr-defined]  # its own id, as the SDK sends
    assert update.name == "Alice"  # type: ignore[attr-defined]
    assert not update.HasField("permission")  # only what is given changes


@pytest.mark.parametrize("method", CALLS)
async def test_it_reports_a_server_error_as_an_upstream_error(
    method: str, double: TwirpDouble, gateway: TwirpLiveKitGateway
) -> None:
    double.fault = Fault(status=500, code="internal")
    error = await _fails_with(CALLS[method], gateway)
    assert type(error) is UpstreamError
    assert "LiveKit" in error.detail


@pytest.mark.parametrize("method", CALLS)
async def test_it_reports_a_slow_server_as_unavailable_within_the_time_out(
    method: str, double: TwirpDouble, impatient_gateway: TwirpLiveKitGateway
) -> None:
    double.fault = Fault(delay_s=60)
    error = await _fails_with(CALLS[method], impatient_gateway)
    assert type(error) is UpstreamUnavailable
    assert "LiveKit is unavailable" in error.detail


@pytest.mark.parametrize("method", CALLS)
async def test_it_reports_a_refused_connection_as_unavailable(method: str) -> None:
    closed = closed_port()  # nothing listens there any more
    gateway = TwirpLiveKitGateway(
        f"http://127.0.0.1:{closed}", LIVEKIT_KEY, LIVEKIT_SECRET, TIMEOUT_S
    )
    try:
        error = await _fails_with(CALLS[method], gateway)
    finally:
        await gateway.close()
    assert type(error) is UpstreamUnavailable


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (404, "not_found", NotFound),
        (503, "unavailable", UpstreamUnavailable),
        (401, "unauthenticated", UpstreamError),
    ],
)
async def test_it_maps_twirp_codes_to_domain_errors(
    status: int,
    code: str,
    kind: type[DomainError],
    double: TwirpDouble,
    gateway: TwirpLiveKitGateway,
) -> None:
    double.fault = Fault(status=status, code=code)
    error = await _fails_with(CALLS["GetParticipant"], gateway)
    assert type(error) is kind


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        # A proxy in front of LiveKit answers with its own page: named after the status.
        (502, b"<html>Bad Gateway</html>", UpstreamUnavailable),
        (504, b"", UpstreamUnavailable),
        # Not "no such room" (the room's state would be cleared): LiveKit didn't say so.
        (404, b"<html>Not Found</html>", UpstreamError),
        (400, b"<html>Bad Request</html>", UpstreamError),
        (500, b'{"msg": "no code"}', UpstreamError),
        (500, b"[" * 100_000, UpstreamError),
        # A 200 that isn't the RoomService's answer.
        (200, b"<html>hello</html>", UpstreamError),
        (200, b"[]", UpstreamError),
        (200, b"[" * 100_000, UpstreamError),
        (200, b'{"participants": {"identity": "alice"}}', UpstreamError),
        (200, b'{"participants": [{"identity": 5}]}', UpstreamError),
        (200, b'{"participants": [{"joined_at": "soon"}]}', UpstreamError),
    ],
)
async def test_an_answer_that_is_not_the_protocols_is_a_clear_error(
    status: int,
    body: bytes,
    kind: type[DomainError],
    double: TwirpDouble,
    gateway: TwirpLiveKitGateway,
) -> None:
    """Never a 500 for what LiveKit, or whatever stands in front of it, answers."""
    double.fault = Fault(status=status, body=body)
    error = await _fails_with(CALLS["ListParticipants"], gateway)
    assert type(error) is kind
    assert "LiveKit" in error.detail
