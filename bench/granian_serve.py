"""The service under granian instead of uvicorn, for the server comparison only.

`antechamber serve` runs uvicorn (chosen by numbers: bench/README.md). This starts the
same application factory as `serve` does, with the same shared-metrics set-up, under
granian (ASGI interface, uvloop, one process per worker, no access log of its own), so
`BENCH_SERVER=granian` puts every scenario of run_all.py on it. Granian is no dependency
of the project: `uv run --with granian python bench/run_all.py` brings it for the run.
It keeps none of `serve`'s stop behaviour (draining, the readiness delay).

    python bench/granian_serve.py PORT WORKERS
"""

from __future__ import annotations

import sys

from granian import Granian  # type: ignore[import-not-found, unused-ignore]
from granian.constants import Interfaces, Loops  # type: ignore[import-not-found, unused-ignore]

from antechamber.cli import _share_metrics
from antechamber.observability.logs import logging_config
from antechamber.settings import load_settings


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    settings = load_settings()
    _share_metrics(settings)
    Granian(
        "antechamber.worker:app_from_env",
        factory=True,
        address="127.0.0.1",
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        log_access=False,
        log_dictconfig=logging_config(settings),
    ).serve()


if __name__ == "__main__":
    main()
