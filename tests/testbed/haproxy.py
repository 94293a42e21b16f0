"""HAProxy (Debian's package) in front of the hosts, with the configuration the README's
production guide shows, run in the foreground from a temporary folder."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

HEALTH_INTERVAL = "1s"

CONFIG = """\
global
    maxconn 4096
    stats socket {socket} mode 600 level admin
    log stderr format raw local0 warning

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    option forwardfor
    # Whole (small) request bodies are kept, so a POST can be retried on another host.
    option http-buffer-request
    option redispatch
    # A request a host never answered (refused connection, a host that died or closed
    # the connection mid-request) is sent again, to another host.
    retries 3
    retry-on conn-failure empty-response
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # Event streams stay open for minutes.
    timeout tunnel 1h
    timeout http-keep-alive 5s
    # /readyz bounds its own checks at 2 s; a slow answer during a shared dependency's
    # blip (a Redis failover) must not take every host out at once.
    timeout check 3s

frontend antechamber
    bind {bind}
    default_backend hosts

backend hosts
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter {interval} fastinter 500ms downinter 1s fall 2 rise 2
{servers}
"""


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or shutil.which("/usr/sbin/haproxy")


def render(bind: str, servers: list[tuple[str, str]], stats_socket: Path) -> str:
    lines = "\n".join(f"    server {name} {address} check" for name, address in servers)
    return CONFIG.format(socket=stats_socket, bind=bind, servers=lines, interval=HEALTH_INTERVAL)


class Haproxy:
    def __init__(self, folder: Path, port: int, servers: list[tuple[str, str]]) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise FileNotFoundError("haproxy is not installed (Debian: apt-get install haproxy)")
        self.binary = binary
        self.port = port
        self.folder = folder
        self.socket = folder / "haproxy.sock"
        self.config = folder / "haproxy.cfg"
        self.config.write_text(render(f"127.0.0.1:{port}", servers, self.socket))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Haproxy:
        with open(self.folder / "haproxy.log", "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-db", "-f", str(self.config)], stdout=log, stderr=log
            )
        return self

    def states(self) -> dict[str, str]:
        """Each server's status as HAProxy sees it (UP, DOWN, MAINT...)."""
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(2)
            client.connect(str(self.socket))
            client.sendall(b"show stat\n")
            data = b""
            while chunk := client.recv(65536):
                data += chunk
        states = {}
        for line in data.decode().splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "hosts" and fields[1] not in ("BACKEND",):
                states[fields[1]] = fields[17]
        return states

    def wait_states(self, expected: dict[str, str], timeout_s: float = 30) -> float:
        started = time.monotonic()
        while True:
            try:
                states = self.states()
                if all(states.get(k, "").startswith(v) for k, v in expected.items()):
                    return time.monotonic() - started
            except OSError:
                pass
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"HAProxy never saw {expected}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
