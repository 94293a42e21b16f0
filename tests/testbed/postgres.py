"""A throwaway PostgreSQL from Debian's binaries (initdb/pg_ctl), on a free loopback
port in a temporary folder, that a test may restart: never the shared server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import free_port

USER = "antechamber"
DATABASE = "antechamber"


def postgres_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PostgresInstance:
    def __init__(self) -> None:
        folder = postgres_bin()
        if folder is None:
            raise FileNotFoundError("PostgreSQL binaries not found under /usr/lib/postgresql")
        self.bin = folder
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="antechamber-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *command: str, timeout: float = 60) -> None:
        # PostgreSQL refuses to run as root: run it as the `postgres` account then.
        prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            prefix = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*prefix, *command],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> PostgresInstance:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "--no-sync",
        )
        self._pg_ctl("start")
        self._run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            USER,
            DATABASE,
        )
        return self

    def _pg_ctl(self, action: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c max_connections=300"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-m",
            "fast",
        )

    def restart(self) -> float:
        """Restarts it (fast mode: open connections are cut); returns the seconds it took."""
        started = time.monotonic()
        self._pg_ctl("restart")
        return time.monotonic() - started

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self._pg_ctl("stop")
        shutil.rmtree(self.folder, ignore_errors=True)
