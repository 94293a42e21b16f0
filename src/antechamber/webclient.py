"""Antechamber's own web client (`web/` in the source tree): where its build is, and
building it when its sources are newer than the build.

A wheel ships the built client inside the package (`antechamber/web/`, added by the
build hook in `hatch_build.py`); a source checkout serves `<repo>/web/dist`, which
`antechamber serve` builds with npm when it is missing or stale.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "web"
SOURCE = Path(__file__).resolve().parents[2] / "web"
# What the build reads besides web/src/.
_INPUTS = ("index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json")
BUILD_TIMEOUT_S = 600
HOW_TO_BUILD = (
    "install Node.js 20 and npm and restart `antechamber serve` (it builds the client), "
    "or run `npm --prefix web ci && npm --prefix web run build`, "
    "or set ANTECHAMBER_FRONTEND_DIR to a built client"
)


def default_dist() -> Path:
    """The folder served at `/` when ANTECHAMBER_FRONTEND_DIR is unset."""
    if (PACKAGED / "index.html").is_file():
        return PACKAGED
    return SOURCE / "dist"


def _sources(source: Path) -> Iterator[Path]:
    for name in _INPUTS:
        path = source / name
        if path.is_file():
            yield path
    src = source / "src"
    if src.is_dir():
        yield from (path for path in src.rglob("*") if path.is_file())


def is_stale(source: Path) -> bool:
    """No build, or a source file newer than it."""
    built = source / "dist" / "index.html"
    if not built.is_file():
        return True
    built_at = built.stat().st_mtime
    return any(path.stat().st_mtime > built_at for path in _sources(source))


@dataclass(frozen=True)
class Outcome:
    served: bool  # a built client is there to serve
    message: str


def prepare(
    source: Path = SOURCE,
    npm: str | None = None,
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
    which: Callable[[str], str | None] = shutil.which,
) -> Outcome:
    """Builds the client from a source checkout when it is stale and npm exists.

    Never raises for a missing or failing toolchain: the API is served either way and the
    message says how to get the client."""
    if (PACKAGED / "index.html").is_file() and source == SOURCE:
        return Outcome(True, f"web client: serving the packaged build in {PACKAGED}")
    if not (source / "package.json").is_file():
        return Outcome(False, f"web client: not found; serving the API only ({HOW_TO_BUILD})")
    if not is_stale(source):
        return Outcome(True, f"web client: {source / 'dist'} is up to date")
    # Several `serve` processes starting at once (tests, a supervisor) build once: the
    # others wait on the lock and find the build fresh.
    try:
        lock = (source / ".build.lock").open("a")
    except OSError as exc:
        return Outcome((source / "dist" / "index.html").is_file(), f"web client: {exc}")
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_stale(source):
            return Outcome(True, f"web client: {source / 'dist'} is up to date")
        return _build(source, npm, run, which)


def _build(
    source: Path,
    npm: str | None,
    run: Callable[..., subprocess.CompletedProcess[bytes]],
    which: Callable[[str], str | None],
) -> Outcome:
    built = (source / "dist" / "index.html").is_file()
    npm = npm or which("npm")
    if npm is None:
        if built:
            return Outcome(
                True,
                "web client: sources are newer than the build, but npm is "
                f"missing; serving the old build ({HOW_TO_BUILD})",
            )
        return Outcome(
            False,
            f"web client: not built and npm is missing; serving the API "
            f"only. To get the client, {HOW_TO_BUILD}",
        )
    steps = []
    if not (source / "node_modules" / ".package-lock.json").is_file():
        steps.append([npm, "ci", "--no-audit", "--no-fund"])
    steps.append([npm, "run", "build"])
    for step in steps:
        try:
            result = run(
                step, cwd=source, capture_output=True, timeout=BUILD_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Outcome(
                built, f"web client: `{' '.join(step[1:])}` failed ({exc}); {HOW_TO_BUILD}"
            )
        if result.returncode != 0:
            tail = (
                result.stdout.decode(errors="replace")[-800:]
                + result.stderr.decode(errors="replace")[-800:]
            )
            return Outcome(built, f"web client: `npm {' '.join(step[1:])}` failed:\n{tail.strip()}")
    return Outcome(True, f"web client: built into {source / 'dist'}")
