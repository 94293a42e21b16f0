"""`HttpOrigin` (antechamber.livekit.http) against small HTTP servers scripted per test.

A test double, not LiveKit: the real server won't, on demand, close a kept connection,
answer in chunks, break an answer off halfway or send a malformed one. Each server is an
`asyncio.start_server` on 127.0.0.1 whose handler the test writes: it reads requests
(head and body), answers raw bytes, and the server counts the connections it accepted,
records every request it read, and notes each connection the client closed. Every wait
is bounded, so a broken client fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from antechamber.livekit.http import MAX_BODY, MAX_HEADER_LINE, HttpOrigin, ProtocolError
from tests.servers import closed_port

T = TypeVar("T")
# A bound on every wait, never a measure: generous, as a loaded machine is slow.
WAIT_S = 10.0
PATH = "/twirp/livekit.RoomService/ListRooms"


async def within(awaitable: Awaitable[T], timeout_s: float = WAIT_S) -> T:
    return await asyncio.wait_for(awaitable, timeout_s)


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    """An HTTP/1.1 answer framed by Content-Length."""
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Request:
    connection: int  # the connection it came on: 0 for the first the server accepted
    line: str  # "POST /path HTTP/1.1"
    headers: list[tuple[str, str]]  # as sent, names' case kept
    body: bytes

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class Peer:
    """One connection the server accepted, as a test's handler sees it."""

    def __init__(
        self,
        server: ScriptedServer,
        index: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.index = index
        self._reader = reader
        self._writer = writer

    async def request(self) -> Request | None:
        """The next request, whole, recorded in the server's `requests`; None when the
        client closed (or reset) the connection instead of sending one."""
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise  # a request broken off: no test expects one
            self.server.note(self.server.closed_by_client, self.index)
            return None
        except ConnectionError:
            self.server.note(self.server.closed_by_client, self.index)
            return None
        line, *fields = head[:-4].decode("latin-1").split("\r\n")
        headers = [(name, value.strip()) for name, _, value in (f.partition(":") for f in fields)]
        lengths = [value for name, value in headers if name.lower() == "content-length"]
        body = await self._reader.readexactly(int(lengths[0]) if lengths else 0)
        request = Request(self.index, line, headers, body)
        self.server.requests.append(request)
        return request

    async def read_some(self) -> bytes:
        """What the client sent next, without waiting for a whole request (b"" at EOF)."""
        return await self._reader.read(1)

    async def eof(self) -> None:
        """Waits for the client to close the connection, discarding what it sends."""
        with contextlib.suppress(ConnectionError):
            while await self._reader.read(65536):
                pass
        self.server.note(self.server.closed_by_client, self.index)

    async def send(self, *pieces: bytes) -> None:
        """Writes the pieces one after another, pausing between them so that the client
        is likely to get them apart."""
        for n, piece in enumerate(pieces):
            if n:
                await asyncio.sleep(0.01)
            self._writer.write(piece)
            await self._writer.drain()

    def reset(self) -> None:
        """Closes the connection with a TCP reset (RST) rather than a FIN."""
        sock = self._writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()


Handler = Callable[[Peer], Awaitable[None]]


class ScriptedServer:
    """An HTTP server on 127.0.0.1 that runs `handler` on each connection it accepts,
    then closes that connection (a FIN) if the handler did not."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.port = 0
        self.connections = 0  # accepted
        self.requests: list[Request] = []  # read whole, in order
        self.closed_by_client: set[int] = set()  # connections the client closed
        self.finished: set[int] = set()  # connections whose handler returned
        self._changed = asyncio.Event()  # set when a connection is noted closed or finished

    def note(self, records: set[int], index: int) -> None:
        records.add(index)
        self._changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Waits, bounded, until `condition` holds of what the server noted."""

        async def wait() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await within(wait())

    @property
    def url(self) -> str:
        if self._tls is not None:
            return f"https://localhost:{self.port}"  # the certificate's name
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.append(task)
        index = self.connections
        self.connections += 1
        try:
            await self._handler(Peer(self, index, reader, writer))
            self.note(self.finished, index)
        except asyncio.CancelledError:
            pass  # the test is over (asyncio.streams would log a cancelled handler)
        finally:
            writer.close()

    async def aclose(self) -> list[BaseException]:
        """Stops the server and its handlers; the handlers' errors."""
        if self._server is not None:
            self._server.close()
            await within(self._server.wait_closed())
        for task in self._tasks:
            task.cancel()
        results = await within(asyncio.gather(*self._tasks, return_exceptions=True))
        return [result for result in results if isinstance(result, BaseException)]


class Servers:
    """Starts scripted servers and the clients that call them; closes them all at the
    end of the test."""

    def __init__(self) -> None:
        self._servers: list[ScriptedServer] = []
        self._origins: list[HttpOrigin] = []

    async def start(self, handler: Handler, tls: ssl.SSLContext | None = None) -> ScriptedServer:
        server = ScriptedServer(handler, tls)
        await server.start()
        self._servers.append(server)
        return server

    def origin(
        self,
        url: str,
        *,
        max_idle: int = 8,
        idle_s: float = 4.0,
        max_open: int = 100,
        tls: ssl.SSLContext | None = None,
    ) -> HttpOrigin:
        origin = HttpOrigin(url, max_idle=max_idle, idle_s=idle_s, max_open=max_open, tls=tls)
        self._origins.append(origin)
        return origin

    async def aclose(self) -> list[BaseException]:
        """Closes everything, even after a failure; the failures."""
        errors: list[BaseException] = []
        for origin in self._origins:
            try:
                await within(origin.close())
            except (TimeoutError, OSError) as exc:
                errors.append(exc)
        for server in self._servers:
            errors += await server.aclose()
        return errors


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    servers = Servers()
    try:
        yield servers
    finally:
        errors = await servers.aclose()
    assert errors == [], f"closing a client or a server failed: {errors!r}"


async def echo(peer: Peer) -> None:
    """Answers each request with its own body, after "echo:"."""
    while request := await peer.request():
        await peer.send(answer(b"echo:" + request.body))


async def post(origin: HttpOrigin, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """Posts `body`; the body of a 200 answer."""
    response = await within(origin.post(PATH, body, headers or {}))
    assert response.status == 200
    return response.body


# --- Keep-alive and the request as sent ---


async def test_sequential_posts_share_one_connection_and_arrive_intact(
    servers: Servers,
) -> None:
    server = await servers.start(echo)
    origin = servers.origin(server.url)
    bodies = [bytes(range(256)) * n for n in range(1, 6)]  # every byte value
    for n, body in enumerate(bodies):
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer t{n}"}
        response = await within(origin.post(PATH, body, headers))
        assert (response.status, response.body) == (200, b"echo:" + body)
        assert response.headers["content-length"] == str(len(body) + 5)
    assert server.connections == 1
    assert [request.body for request in server.requests] == bodies
    for n, request in enumerate(server.requests):
        assert request.line == f"POST {PATH} HTTP/1.1"
        assert request.header("Host") == [f"127.0.0.1:{server.port}"]
        assert request.header("Content-Length") == [str(len(bodies[n]))]
        assert request.header("Content-Type") == ["application/json"]
        assert request.header("Authorization") == [f"Bearer t{n}"]


async def test_large_bodies_cross_whole_both_ways(servers: Servers) -> None:
    # Both well over the client's stream buffer (8 KiB) and a socket's buffers.
    server = await servers.start(echo)
    origin = servers.origin(server.url)
    body = os.urandom(3 * 1024 * 1024)
    assert await post(origin, body) == b"echo:" + body
    assert await post(origin, b"next") == b"echo:next"
    assert server.connections == 1
    assert [request.body for request in server.requests] == [body, b"next"]


@pytest.mark.parametrize(
    ("suffix", "path"),
    [
        ("", PATH),
        ("/", PATH),
        ("/prefix", "/prefix" + PATH),
        ("/prefix/", "/prefix" + PATH),
        ("/a/b/", "/a/b" + PATH),
    ],
)
async def test_the_urls_path_prefixes_the_requests(
    servers: Servers, suffix: str, path: str
) -> None:
    server = await servers.start(echo)
    origin = servers.origin(server.url + suffix)
    assert await post(origin, b"x") == b"echo:x"
    assert [request.line for request in server.requests] == [f"POST {path} HTTP/1.1"]


def test_a_url_that_is_not_http_is_refused() -> None:
    for url in ("ftp://127.0.0.1/", "127.0.0.1:7880", "http:///twirp"):
        with pytest.raises(ValueError, match="not an http"):
            HttpOrigin(url)


# --- How answers are framed, and when the connection is kept ---


def chunked_answer() -> tuple[list[bytes], bytes]:
    """A chunked answer in pieces split at awkward places (inside a size line, a chunk,
    a CRLF), with a chunk extension and trailers; and the body it carries."""
    big = bytes(range(256)) * 160  # 0xA000 bytes: a chunk larger than the stream buffer
    pieces = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
        b"5;name=value\r\nhel",
        b"lo\r",
        b"\n1\r\n \r\nA0",
        b"00\r\n" + big[:1000],
        big[1000:] + b"\r\n",
        b"0\r\nX-Checksum: abc\r\nX-Other",
        b": 1\r\n\r\n",
    ]
    return pieces, b"hello " + big


async def test_a_chunked_answer_is_read_whole_and_the_connection_kept(
    servers: Servers,
) -> None:
    pieces, whole = chunked_answer()

    async def handler(peer: Peer) -> None:
        if await peer.request():
            await peer.send(*pieces)
        await echo(peer)

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    response = await within(origin.post(PATH, b"one", {}))
    assert (response.status, response.body) == (200, whole)
    assert response.headers["transfer-encoding"] == "chunked"
    # The trailers were read too: the next answer on the connection is read cleanly.
    assert await post(origin, b"two") == b"echo:two"
    assert server.connections == 1
    assert [request.body for request in server.requests] == [b"one", b"two"]


async def test_an_answer_ended_by_closing_is_read_to_the_end_and_not_kept(
    servers: Servers,
) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index > 0:
            return await echo(peer)
        if await peer.request():
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
            await peer.send(head + b"part one, ", b"part two")
        # The handler returns: the server closes the connection, ending the answer.

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    assert await post(origin, b"one") == b"part one, part two"
    assert await post(origin, b"two") == b"echo:two"
    assert server.connections == 2
    assert [(r.connection, r.body) for r in server.requests] == [(0, b"one"), (1, b"two")]


@pytest.mark.parametrize(
    "reply",
    [
        answer(b"ok", "Connection: close"),
        answer(b"ok", "Connection: Keep-Alive, Close"),
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "keep-alive-and-close", "http-1.0", "http-1.0-keep-alive"],
)
async def test_an_answer_that_ends_the_connection_is_not_kept(
    servers: Servers, reply: bytes
) -> None:
    # The server itself keeps the connection open: only the client can end it.
    async def handler(peer: Peer) -> None:
        while await peer.request():
            await peer.send(reply)

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    assert await post(origin, b"one") == b"ok"
    assert await post(origin, b"two") == b"ok"
    assert server.connections == 2
    assert [(r.connection, r.body) for r in server.requests] == [(0, b"one"), (1, b"two")]
    await server.until(lambda: 0 in server.closed_by_client)


async def test_an_answer_with_no_body_ends_at_its_head(servers: Servers) -> None:
    async def handler(peer: Peer) -> None:
        if await peer.request():
            await peer.send(b"HTTP/1.1 204 No Content\r\nX-Request-Id: 7\r\n\r\n")
        await echo(peer)

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    response = await within(origin.post(PATH, b"one", {}))
    assert (response.status, response.body) == (204, b"")
    assert response.headers == {"x-request-id": "7"}
    assert await post(origin, b"two") == b"echo:two"
    assert server.connections == 1


async def test_interim_answers_are_skipped(servers: Servers) -> None:
    # A client must read 1xx answers before the final one, asked for or not (RFC 9110,
    # 15.2); the final answer is the call's, never the next call's.
    async def handler(peer: Peer) -> None:
        if await peer.request():
            await peer.send(
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
                answer(b"final"),
            )
        await echo(peer)

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    assert await post(origin, b"one") == b"final"
    assert await post(origin, b"two") == b"echo:two"
    assert server.connections == 1


# --- A kept connection that the server closed ---


CLOSED_WHILE_IDLE = ["fin-after-answer", "reset-after-answer", "close-on-arrival"]


async def closed_while_idle(servers: Servers, how: str) -> None:
    """The server closes a kept connection: the next (idempotent) call is answered on a
    new one, and the server reads its request once. After a FIN the client most likely
    drops the connection as it takes it; after a reset, and when the server closes as
    the request arrives, the request is sent again on a new connection."""

    async def handler(peer: Peer) -> None:
        if peer.index > 0:
            return await echo(peer)
        if await peer.request():
            await peer.send(answer(b"echo:one"))
        if how == "reset-after-answer":
            peer.reset()
        elif how == "close-on-arrival":
            # Its idle time-out fires as the next request arrives: it reads none of it.
            assert await peer.read_some()
            peer.reset()
        # fin-after-answer: returns, and the server closes the connection.

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    assert await post(origin, b"one") == b"echo:one"
    if how != "close-on-arrival":
        await server.until(lambda: 0 in server.finished)
    response = await within(origin.post(PATH, b"two", {}, idempotent=True))
    assert response.body == b"echo:two"
    assert server.connections == 2
    # Each request read once: the replayed one only on the new connection.
    assert [(r.connection, r.body) for r in server.requests] == [(0, b"one"), (1, b"two")]


@pytest.mark.parametrize("how", CLOSED_WHILE_IDLE)
async def test_a_kept_connection_the_server_closed_is_replaced_transparently(
    servers: Servers, how: str
) -> None:
    await closed_while_idle(servers, how)


async def closed_on_arrival_not_idempotent(servers: Servers) -> None:
    """The server closes a kept connection as a request that isn't idempotent arrives:
    the client can't tell whether it was read, so the call fails rather than risk
    doing it twice; the next call is answered on a new connection."""

    async def handler(peer: Peer) -> None:
        if peer.index > 0:
            return await echo(peer)
        if await peer.request():
            await peer.send(answer(b"echo:one"))
        assert await peer.read_some()
        peer.reset()

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    assert await post(origin, b"one") == b"echo:one"
    with pytest.raises(ConnectionError):
        await within(origin.post(PATH, b"two", {}))
    assert server.connections == 1  # not sent again
    assert await post(origin, b"three") == b"echo:three"
    assert [(r.connection, r.body) for r in server.requests] == [(0, b"one"), (1, b"three")]


async def test_a_request_that_is_not_idempotent_is_not_sent_twice(servers: Servers) -> None:
    await closed_on_arrival_not_idempotent(servers)


def test_a_request_that_is_not_idempotent_is_not_sent_twice_under_uvloop() -> None:
    under_uvloop(closed_on_arrival_not_idempotent)


async def fresh_closed_before_answer(servers: Servers, reset: bool) -> None:
    """A new connection closed by the server after it read the request: the call fails,
    and the request is not sent again."""

    async def handler(peer: Peer) -> None:
        # Reads the request, then closes without answering.
        if await peer.request() and reset:
            peer.reset()

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    with pytest.raises(ConnectionError):
        await within(origin.post(PATH, b"once", {}))
    assert server.connections == 1
    assert [request.body for request in server.requests] == [b"once"]


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
async def test_a_fresh_connection_closed_before_the_answer_is_not_retried(
    servers: Servers, reset: bool
) -> None:
    await fresh_closed_before_answer(servers, reset)


def under_uvloop(scenario: Callable[[Servers], Awaitable[None]]) -> None:
    """Runs a scenario on a uvloop event loop of its own: the service runs on uvloop
    (antechamber.cli), whose transports don't fail as asyncio's do (a write on a
    connection closed by a reset raises RuntimeError)."""

    async def run() -> None:
        servers = Servers()
        try:
            await scenario(servers)
        finally:
            errors = await servers.aclose()
        assert errors == [], f"closing a client or a server failed: {errors!r}"

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())


@pytest.mark.parametrize("how", CLOSED_WHILE_IDLE)
def test_a_kept_connection_the_server_closed_is_replaced_under_uvloop(how: str) -> None:
    under_uvloop(lambda servers: closed_while_idle(servers, how))


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
def test_a_fresh_connection_closed_before_the_answer_fails_under_uvloop(reset: bool) -> None:
    under_uvloop(lambda servers: fresh_closed_before_answer(servers, reset))


async def test_a_refused_connection_raises(servers: Servers) -> None:
    origin = servers.origin(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ConnectionRefusedError):
        await within(origin.post(PATH, b"x", {}))


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 20",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ],
    ids=["status-line", "header", "head", "body", "chunk"],
)
async def test_a_kept_connection_closed_during_the_answer_is_not_retried(
    servers: Servers, partial: bytes
) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index > 0:
            return await echo(peer)
        if await peer.request():
            await peer.send(answer(b"echo:one"))
        if await peer.request():
            await peer.send(partial)
        # Returns: the server closes the connection in the middle of the answer.

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    assert await post(origin, b"one") == b"echo:one"
    with pytest.raises(asyncio.IncompleteReadError):
        await within(origin.post(PATH, b"two", {}))
    assert server.connections == 1
    assert [request.body for request in server.requests] == [b"one", b"two"]
    # The client is not stuck on the broken connection.
    assert await post(origin, b"three") == b"echo:three"
    assert server.connections == 2


# --- Cancellation and time-outs ---


async def test_a_cancelled_post_closes_its_connection(servers: Servers) -> None:
    slow_read = asyncio.Event()
    release = asyncio.Event()
    late_sent = asyncio.Event()

    async def handler(peer: Peer) -> None:
        while request := await peer.request():
            if request.body == b"slow":
                slow_read.set()
                await release.wait()
                with contextlib.suppress(ConnectionError):
                    await peer.send(answer(b"late answer to slow"))
                late_sent.set()
            else:
                await peer.send(answer(b"echo:" + request.body))

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    assert await post(origin, b"warm") == b"echo:warm"  # connection 0, kept
    call = asyncio.create_task(origin.post(PATH, b"slow", {}))
    await within(slow_read.wait())
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(call)
    # The server answers late, after the client gave up on connection 0...
    release.set()
    await within(late_sent.wait())
    await server.until(lambda: 0 in server.closed_by_client)
    # ...and the next call gets its own answer, on a new connection.
    assert await post(origin, b"fresh") == b"echo:fresh"
    assert server.connections == 2
    assert [(r.connection, r.body) for r in server.requests] == [
        (0, b"warm"),
        (0, b"slow"),
        (1, b"fresh"),
    ]


async def test_a_timed_out_post_closes_its_connection(servers: Servers) -> None:
    async def handler(peer: Peer) -> None:
        while request := await peer.request():
            if request.body == b"slow":
                await peer.eof()  # never answers
                return
            await peer.send(answer(b"echo:" + request.body))

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(origin.post(PATH, b"slow", {}), 0.2)
    await server.until(lambda: 0 in server.closed_by_client)
    assert await post(origin, b"next") == b"echo:next"
    assert server.connections == 2


# --- Malformed answers and limits ---


def with_headers(*lines: bytes, body: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body


MALFORMED = {
    "header-line-too-long": with_headers(
        b"X-Long: " + b"a" * (MAX_HEADER_LINE + 100), b"Content-Length: 0"
    ),
    "status-line-too-long": b"HTTP/1.1 200 " + b"O" * (MAX_HEADER_LINE + 100) + b"\r\n\r\n",
    "content-length-abc": with_headers(b"Content-Length: abc"),
    "content-length-negative": with_headers(b"Content-Length: -1"),
    "content-length-superscript": with_headers(b"Content-Length: \xb2", body=b"ab"),
    "content-length-too-large": with_headers(f"Content-Length: {MAX_BODY + 1}".encode()),
    "not-http": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "http-2": b"HTTP/2 200\r\nContent-Length: 0\r\n\r\n",
    "status-code-not-a-number": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    "status-code-two-digits": b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
    "status-code-superscript": b"HTTP/1.1 2\xb20 OK\r\nContent-Length: 0\r\n\r\n",
    "header-without-colon": with_headers(b"Content-Length: 0", b"no colon here"),
    "too-many-headers": with_headers(
        *(f"X-H{n}: {n}".encode() for n in range(101)), b"Content-Length: 0"
    ),
    "chunk-size-not-hex": with_headers(b"Transfer-Encoding: chunked", body=b"zz\r\nab\r\n"),
    "chunk-size-empty": with_headers(b"Transfer-Encoding: chunked", body=b"\r\nab\r\n"),
    "chunk-size-0x": with_headers(b"Transfer-Encoding: chunked", body=b"0x2\r\nab\r\n0\r\n\r\n"),
    "chunk-size-underscore": with_headers(
        b"Transfer-Encoding: chunked", body=b"0_2\r\nab\r\n0\r\n\r\n"
    ),
    "chunk-size-plus": with_headers(b"Transfer-Encoding: chunked", body=b"+2\r\nab\r\n0\r\n\r\n"),
    "chunk-without-crlf": with_headers(b"Transfer-Encoding: chunked", body=b"3\r\nabcXY0\r\n"),
    "switching-protocols": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
}


@pytest.mark.parametrize("reply", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_a_malformed_answer_raises_protocol_error_and_closes(
    servers: Servers, reply: bytes
) -> None:
    async def handler(peer: Peer) -> None:
        if await peer.request():
            await peer.send(reply)
        await peer.eof()  # the server never closes: the client must

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    with pytest.raises(ProtocolError):
        await within(origin.post(PATH, b"x", {}))
    await server.until(lambda: 0 in server.closed_by_client)
    assert server.connections == 1


async def test_a_long_header_line_under_the_limit_is_read(servers: Servers) -> None:
    value = "v" * (MAX_HEADER_LINE - 100)

    async def handler(peer: Peer) -> None:
        while await peer.request():
            await peer.send(answer(b"ok", f"X-Long: {value}"))

    server = await servers.start(handler)
    origin = servers.origin(server.url)
    response = await within(origin.post(PATH, b"x", {}))
    assert (response.status, response.body, response.headers["x-long"]) == (200, b"ok", value)


# --- Idle connections: how long, how many, and closing ---


@pytest.mark.parametrize(("idle_s", "connections"), [(0.2, 2), (30.0, 1)])
async def test_an_idle_connection_is_kept_for_idle_s(
    servers: Servers, idle_s: float, connections: int
) -> None:
    server = await servers.start(echo)
    origin = servers.origin(server.url, idle_s=idle_s)
    assert await post(origin, b"one") == b"echo:one"
    await asyncio.sleep(0.3)
    assert await post(origin, b"two") == b"echo:two"
    assert server.connections == connections
    if connections == 2:
        # The expired connection was closed, not just left alone.
        await server.until(lambda: 0 in server.closed_by_client)


def barrier_echo(parties: int) -> Handler:
    """Echoes, but holds every answer until `parties` requests have arrived: so many
    concurrent posts each need a connection of their own."""
    arrived = asyncio.Event()

    async def handler(peer: Peer) -> None:
        while request := await peer.request():
            if len(peer.server.requests) >= parties:
                arrived.set()
            await arrived.wait()
            await peer.send(answer(b"echo:" + request.body))

    return handler


async def test_at_most_max_idle_connections_are_kept(servers: Servers) -> None:
    server = await servers.start(barrier_echo(2))
    origin = servers.origin(server.url, max_idle=1)
    answers = await within(asyncio.gather(post(origin, b"a"), post(origin, b"b")))
    assert list(answers) == [b"echo:a", b"echo:b"]
    assert server.connections == 2
    # One of the two was closed by the client; the other is kept, and used next.
    await server.until(lambda: len(server.closed_by_client) == 1)
    assert await post(origin, b"c") == b"echo:c"
    assert server.connections == 2
    (closed,) = server.closed_by_client
    assert server.requests[-1].connection == 1 - closed


async def test_close_closes_the_idle_connections(servers: Servers) -> None:
    server = await servers.start(barrier_echo(3))
    origin = servers.origin(server.url)
    posts = (post(origin, body) for body in (b"a", b"b", b"c"))
    assert await within(asyncio.gather(*posts)) == [b"echo:a", b"echo:b", b"echo:c"]
    assert server.connections == 3
    assert server.closed_by_client == set()
    await within(origin.close())
    await server.until(lambda: server.closed_by_client == {0, 1, 2})
    # A call after close() still works, and its connection is not kept.
    assert await post(origin, b"d") == b"echo:d"
    await server.until(lambda: 3 in server.closed_by_client)


async def test_at_most_max_open_calls_are_in_flight(servers: Servers) -> None:
    """With `max_open=2`, 5 concurrent posts to a server that holds every answer until
    2 requests are in: never more than 2 connections, and every post answered."""
    server = await servers.start(barrier_echo(2))
    origin = servers.origin(server.url, max_open=2)
    bodies = [f"{n}".encode() for n in range(5)]
    answers = await within(asyncio.gather(*(post(origin, body) for body in bodies)))
    assert list(answers) == [b"echo:" + body for body in bodies]
    assert server.connections == 2
    assert len(server.requests) == 5


# --- TLS (LiveKit behind https, as `wss://` URLs give) ---


@dataclass(frozen=True)
class Certificate:
    server: ssl.SSLContext  # serves the certificate
    client: ssl.SSLContext  # trusts it (and checks the host name)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for localhost (not for 127.0.0.1)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return Certificate(server, client)


async def test_it_speaks_tls_and_keeps_the_connection(
    servers: Servers, certificate: Certificate
) -> None:
    server = await servers.start(echo, tls=certificate.server)
    origin = servers.origin(server.url, tls=certificate.client)
    assert [await post(origin, body) for body in (b"a", b"b", b"c")] == [
        b"echo:a",
        b"echo:b",
        b"echo:c",
    ]
    assert server.connections == 1
    assert [r.header("Host") for r in server.requests] == [[f"localhost:{server.port}"]] * 3


async def test_a_certificate_nobody_trusts_is_refused(
    servers: Servers, certificate: Certificate
) -> None:
    """By default the system's trusted certificates: a self-signed one fails the call
    with an OSError (which the gateway answers as LiveKit being unavailable)."""
    server = await servers.start(echo, tls=certificate.server)
    origin = servers.origin(server.url)
    with pytest.raises(ssl.SSLCertVerificationError):
        await within(origin.post(PATH, b"a", {}))
    assert issubclass(ssl.SSLCertVerificationError, OSError)
    assert server.requests == []


async def test_a_certificate_for_another_name_is_refused(
    servers: Servers, certificate: Certificate
) -> None:
    server = await servers.start(echo, tls=certificate.server)
    url = server.url.replace("localhost", "127.0.0.1")  # not a name the certificate has
    origin = servers.origin(url, tls=certificate.client)
    with pytest.raises(ssl.SSLCertVerificationError):
        await within(origin.post(PATH, b"a", {}))
