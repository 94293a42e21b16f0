"""A small HTTP/1.1 client for one origin: POST a body, read the answer, keep the
connection for the next call.

It is all the service needs to call LiveKit's RoomService (Twirp: a POST per call, a JSON
answer with a Content-Length), built on asyncio's streams so that a worker that talks to
LiveKit loads no HTTP library: aiohttp costs ~10 MiB of RSS, httpx ~6.5 MiB
(bench/README.md, "Worker memory"). It reads answers framed by Content-Length, by
chunked transfer coding, or by the end of the connection, skipping interim (1xx) answers,
has at most `max_open` calls (so connections) in flight, and keeps at most `max_idle`
idle connections, each for at most `idle_s`.

The caller bounds each call in time (`asyncio.wait_for`); a call that fails, times out or
is cancelled closes its connection, so no later call can read its answer. A kept
connection found closed before the request was written is replaced, and the request
sent on a new one. One found closed after it was written, before the answer's first
byte (the server closed it while idle, most likely, but it may have read the request
and died), is replaced and the request sent again only when the caller says the
request is `idempotent`: sending it twice must do no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEADER_LINE = 8192
MAX_HEADERS = 100
MAX_BODY = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as this client reads it."""


class _ClosedBeforeAnswer(ConnectionError):
    """The connection ended before the first byte of the answer; `unsent`: before the
    request was written."""

    def __init__(self, message: str, *, unsent: bool = False) -> None:
        super().__init__(message)
        self.unsent = unsent


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


class HttpOrigin:
    def __init__(
        self,
        url: str,
        *,
        max_idle: int = 8,
        idle_s: float = 4.0,
        max_open: int = 100,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: the context for an https URL; by default the system's trusted
        certificates (OpenSSL also reads SSL_CERT_FILE and SSL_CERT_DIR) and the host
        name checked."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        default_port = (self._port == 443) if self._tls else (self._port == 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._authority = host if default_port else f"{host}:{self._port}"
        self.base_path = parts.path.rstrip("/")
        self._max_idle = max_idle
        self._idle_s = idle_s
        self._idle: list[_Connection] = []
        self._ssl = tls
        self._closed = False
        # Calls in flight, so connections open, at most (aiohttp's default limit): more
        # wait for a slot, within the caller's time bound.
        self._slots = asyncio.Semaphore(max_open)

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], *, idempotent: bool = False
    ) -> Response:
        async with self._slots:
            return await self._post(path, body, headers, idempotent)

    async def _post(
        self, path: str, body: bytes, headers: dict[str, str], idempotent: bool
    ) -> Response:
        head = [f"POST {self.base_path}{path} HTTP/1.1", f"Host: {self._authority}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        connection, reused = self._take_idle(), True
        if connection is None:
            connection, reused = await self._open(), False
        try:
            try:
                response, keep = await self._exchange(connection, request)
            except _ClosedBeforeAnswer as exc:
                if not reused or not (exc.unsent or idempotent):
                    raise
                # Closed by the server while it sat idle, most likely.
                connection.close()
                connection = await self._open()
                response, keep = await self._exchange(connection, request)
        except BaseException:
            connection.close()
            raise
        if keep and not self._closed and len(self._idle) < self._max_idle:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return response

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        for connection in idle:
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely closed
            if now - connection.idle_since < self._idle_s and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def _open(self) -> _Connection:
        context = None
        if self._tls:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        reader, writer = await asyncio.open_connection(
            self._host, self._port, ssl=context, limit=MAX_HEADER_LINE
        )
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, request: bytes) -> tuple[Response, bool]:
        reader = connection.reader
        if connection.writer.is_closing():
            # Reset by the server while idle. asyncio's transport would drop the write
            # and let drain() raise; uvloop's raises RuntimeError from write().
            raise _ClosedBeforeAnswer("the connection was closed", unsent=True)
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            first = await reader.read(1)
        except ConnectionError as exc:
            raise _ClosedBeforeAnswer(str(exc)) from exc
        if not first:
            raise _ClosedBeforeAnswer("the server closed the connection")
        status_line = first.decode("latin-1") + await _line(reader)
        version, status, headers = await _head(reader, status_line)
        # Interim answers (100 Continue, 103 Early Hints) may come before the final one,
        # asked for or not: skipped, or the final one would be left for the next call.
        while 100 <= status < 200:
            if status == 101:
                raise ProtocolError("a protocol switch not asked for")
            version, status, headers = await _head(reader, await _line(reader))
        keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        if status in (204, 304):
            return Response(status, headers, b""), keep
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _chunked(reader)
        elif "content-length" in headers:
            length = headers["content-length"]
            if not _digits(length) or int(length) > MAX_BODY:
                raise ProtocolError("a bad Content-Length")
            body = await reader.readexactly(int(length))
        else:
            body = await _until_eof(reader)
            keep = False
        return Response(status, headers, body), keep


async def _head(reader: asyncio.StreamReader, status_line: str) -> tuple[str, int, dict[str, str]]:
    """The version, status and headers of an answer whose status line was read."""
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not _digits(code):
        raise ProtocolError("not an HTTP/1.x status line")
    headers: dict[str, str] = {}
    while line := await _line(reader):
        if len(headers) >= MAX_HEADERS:
            raise ProtocolError("too many headers")
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError("a header line without a colon")
        headers[name.strip().lower()] = value.strip()
    return version, int(code), headers


def _digits(text: str) -> bool:
    # Not str.isdigit() alone: it is true of "\xb2" (a superscript two), which int() refuses.
    return text.isascii() and text.isdigit()


async def _line(reader: asyncio.StreamReader) -> str:
    """A line without its CRLF ("" for an empty line); IncompleteReadError at the end of
    the stream."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("a header line too long") from exc
    return line.rstrip(b"\r\n").decode("latin-1")


_HEX_DIGITS = "0123456789abcdefABCDEF"


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = (await _line(reader)).split(";", 1)[0].strip()
        # Hex digits only: int(..., 16) would also take "0x10", "1_0" or "+5".
        if not size_line or size_line.strip(_HEX_DIGITS) or len(size_line) > 16:
            raise ProtocolError("a bad chunk size")
        size = int(size_line, 16)
        if len(body) + size > MAX_BODY:
            raise ProtocolError("a body too large")
        if size == 0:
            while await _line(reader):  # trailers, up to the empty line
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("a chunk without its CRLF")


async def _until_eof(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while chunk := await reader.read(65536):
        body += chunk
        if len(body) > MAX_BODY:
            raise ProtocolError("a body too large")
    return bytes(body)
