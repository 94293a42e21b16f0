"""The app as each served worker loads it.

`antechamber serve` (and the benchmarks' granian runner) point the server at
`app_from_env` here, and `serve` reads the app's settings through `load_app` before its
workers start, so it imports the app as they do. `create_app` itself is unchanged.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def load_app() -> ModuleType:
    """`antechamber.app`, imported."""
    import antechamber.app

    return antechamber.app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and the `serve` command."""
    app: FastAPI = load_app().app_from_env()
    return app
