"""What each imported package costs a worker, in MiB of RSS: the table behind
bench/README.md's "Worker memory".

Reads the import log `worker_imports.py` leaves (`PYTHONPROFILEIMPORTTIME` output of a
served worker, path printed by it), then, for each package named, starts a fresh
interpreter that imports every module of that log in the same order, with that package
made unimportable (`None` in `sys.modules`), and compares its RSS with a run where
nothing is left out. Packages that can't load without it fall out too, and are named:
"sqlalchemy" alone is what dropping the database layer would save, "aiohttp" takes the
LiveKit SDK with it. Only imports are measured (no app built, no request served), in
the order and with the bytecode of this checkout, so the figures are marginal costs,
not a sum: shared dependencies are charged to no package.

    uv run python bench/import_costs.py /tmp/antechamber-imports-XXXX/serve.log
    uv run python bench/import_costs.py LOG sqlalchemy redis aiohttp   # only these
    uv run python bench/import_costs.py LOG --alone alembic authlib    # not imported by
        # workers: the RSS they would add, imported after everything a worker imports
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The packages the table lists by default (those a worker imports that weigh, or that
# were cut), plus what `--alone` measures by default.
DEFAULT = [
    "sqlalchemy",
    "asyncpg",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "fastapi",
    "starlette",
    "anyio",
    "redis",
    "hiredis",
    "aiohttp",
    "google",
    "livekit",
    "jwt",
    "cryptography.hazmat.bindings._rust",
    "prometheus_client",
    "uvicorn",
    "click",
    "uvloop",
    "httptools",
    "opentelemetry",
    "email_validator",
    "multiprocessing",
    "dotenv",
]
DEFAULT_ALONE = ("alembic", "antechamber.auth.oidc", "fastapi_offline", "smtplib")

_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

# Run in a fresh interpreter: argv = log, blocked names..., then "--then", names to
# import afterwards. Prints one JSON line.
_CHILD = r"""
import importlib, json, re, sys, warnings
warnings.simplefilter("ignore")
log, rest = sys.argv[1], sys.argv[2:]
then = rest[rest.index("--then") + 1:] if "--then" in rest else []
blocked = rest[: rest.index("--then")] if "--then" in rest else rest
line = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
names = [m.group(4) for m in map(line.match, open(log, errors="replace")) if m]
for name in blocked:
    sys.modules[name] = None
failed = set()
for name in names:
    if name in sys.modules or name.split(".")[0] in ("antechamber", "__main__"):
        continue
    try:
        importlib.import_module(name)
    except BaseException:
        failed.add(name.split(".")[0])
def rss():
    with open("/proc/self/status") as status:
        for entry in status:
            if entry.startswith("VmRSS:"):
                return int(entry.split()[1]) / 1024
before = rss()
for name in blocked:  # lifted, as antechamber.worker does once the app is imported
    if sys.modules.get(name, 0) is None:
        del sys.modules[name]
for name in then:
    importlib.import_module(name)
loaded = sum(1 for module in sys.modules.values() if module is not None)
print(json.dumps({"rss": rss(), "before_then": before, "failed": sorted(failed),
                  "modules": loaded}))
"""


@dataclass(frozen=True)
class Imported:
    rss: float  # MiB, at the end
    before_then: float  # MiB, before the --then imports
    failed: frozenset[str]  # top-level packages some module of which failed to import
    modules: int


def run(log: Path, blocked: Sequence[str], then: Sequence[str] = ()) -> Imported:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(log), *blocked, "--then", *then],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return Imported(
        float(raw["rss"]), float(raw["before_then"]), frozenset(raw["failed"]), raw["modules"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path, help="the serve.log worker_imports.py printed")
    parser.add_argument("packages", nargs="*", help=f"default: {' '.join(DEFAULT)}")
    parser.add_argument("--alone", nargs="*", default=None, help="not-imported packages")
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure (lowest)")
    args = parser.parse_intermixed_args()
    modules = {m.group(4) for m in map(_LINE.match, args.log.open(errors="replace")) if m}
    print(f"{len(modules)} modules in the log; {args.repeat} runs per figure (lowest RSS)")

    def lowest(blocked: Sequence[str], then: Sequence[str] = ()) -> Imported:
        runs = (run(args.log, list(blocked), then) for _ in range(args.repeat))
        return min(runs, key=lambda r: r.rss)

    base = lowest([])
    print(f"everything in the log imported: {base.rss:.1f} MiB, {base.modules} modules")
    print(f"{'left out':38s} {'MiB saved':>9s} {'modules':>8s}  also left out (they need it)")
    for name in args.packages or DEFAULT:
        result = lowest([name])
        dropped = sorted(result.failed - base.failed - {name.split(".")[0]})
        fewer = base.modules - result.modules
        print(f"{name:38s} {base.rss - result.rss:9.1f} {fewer:8d}  {' '.join(dropped)}")
    alone = tuple(args.alone) if args.alone else DEFAULT_ALONE
    print(f"\n{'imported after all of them':38s} {'MiB added':>9s}")
    for name in alone:
        result = lowest([], [name])
        print(f"{name:38s} {result.rss - result.before_then:9.1f}")


if __name__ == "__main__":
    main()
