"""`antechamber serve | migrate | check`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from antechamber.settings import ConfigurationError, Settings, load_settings

# Seconds a worker may take to answer the supervisor's health check before it is killed.
WORKER_HEALTHCHECK_TIMEOUT_S = 30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="antechamber")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=None, help="default: ANTECHAMBER_WORKERS")
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="comma list of proxy addresses (or *) whose X-Forwarded-For/-Proto are trusted; "
        "default: ANTECHAMBER_FORWARDED_ALLOW_IPS (127.0.0.1)",
    )
    serve.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="use X-Forwarded-For/-Proto from trusted proxies (default: on)",
    )
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("check", help="validate the configuration and reach every dependency")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except (ConfigurationError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "migrate":
        from antechamber.db.migrate import upgrade

        upgrade(settings.database.url)
        print("database is up to date")
        return 0
    from antechamber.checks import run_checks

    return asyncio.run(run_checks(settings))


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from antechamber.observability.logs import configure_logging, logging_config

    # The supervisor's own lines (the web client's build) in the operator's chosen format.
    configure_logging(settings)
    count = args.workers or settings.workers
    if count > 1 and not settings.uses_redis:
        print(
            "configuration error: REDIS_URL is required with more than one worker", file=sys.stderr
        )
        return 2
    if settings.frontend_dir is None:
        from antechamber import webclient

        logging.getLogger("antechamber.serve").info(webclient.prepare().message)
    if settings.database.is_sqlite:
        # Migrate once here, not in each worker's lifespan, so workers don't race.
        from antechamber.db.migrate import upgrade

        upgrade(settings.database.url)
        os.environ["ANTECHAMBER_MIGRATE_ON_START"] = "false"
    _share_metrics(settings)
    from antechamber.app import graceful_timeout_s

    config = uvicorn.Config(
        "antechamber.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=count,
        log_level=settings.log_level,
        log_config=logging_config(settings),
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips or settings.forwarded_allow_ips,
        # The service writes its own access log (with request ids, route templates).
        access_log=False,
        # Chosen by numbers (bench/README.md): uvloop and the httptools parser, named so a
        # missing one fails at start instead of silently falling back to asyncio and h11.
        loop="uvloop",
        http="httptools",
        # No route speaks WebSocket: none of its protocol code loaded in any worker.
        ws="none",
        lifespan="on",
        # The response says nothing of the server's make.
        server_header=False,
        timeout_graceful_shutdown=max(1, round(graceful_timeout_s(settings))),
        # The supervisor kills a worker that doesn't answer its health check in time, and
        # with it every connection the worker holds. uvicorn's 5 s is short for a worker
        # starved of CPU on a loaded host, which is slow, not hung.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT_S,
    )
    if count == 1:
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else 1
    from antechamber.supervisor import Listener, PortInUse, Supervisor

    try:
        listener = Listener(args.host, args.port, config.backlog)
    except PortInUse as exc:
        logging.getLogger("antechamber.serve").error("%s", exc)
        return 1
    logging.getLogger("antechamber.serve").info(
        "listening on %s:%d with %d workers", listener.host, listener.port, count
    )
    Supervisor(config, listener).run()
    return 0


def _share_metrics(settings: Settings) -> None:
    """Workers share their metrics through files in one folder, emptied at start (the
    values of a previous run must not count). prometheus-client reads its variable when
    first imported, which happens in each worker after this."""
    import os
    import tempfile
    from pathlib import Path

    folder = settings.metrics_dir
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="antechamber-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["ANTECHAMBER_METRICS_DIR"] = str(folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


if __name__ == "__main__":
    raise SystemExit(main())
