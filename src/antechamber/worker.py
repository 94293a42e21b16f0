"""The app as each served worker loads it: the same app, without a native library that
serving never uses.

`antechamber.app` is imported with PyJWT's unused `cryptography` backend kept out
(`antechamber.keptout` says why): nothing the app imports at start loads PyJWT now (the
LiveKit SDK is imported on first use, through `antechamber.livekit.sdk.load_sdk`, which
keeps it out too), so this only guards against an import that would.

`antechamber serve` (and the benchmarks' granian runner) point the server at
`app_from_env` here; `create_app` itself is unchanged.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from antechamber.keptout import PYJWT_NATIVE, kept_out

if TYPE_CHECKING:
    from fastapi import FastAPI

# What PyJWT's optional algorithms would load, and serving never uses.
KEPT_OUT = PYJWT_NATIVE


def load_app() -> ModuleType:
    """`antechamber.app`, imported with PyJWT's unused native backend kept out."""
    with kept_out(KEPT_OUT):
        import antechamber.app

    return antechamber.app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and the `serve` command."""
    app: FastAPI = load_app().app_from_env()
    return app
