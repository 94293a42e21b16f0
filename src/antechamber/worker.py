"""The app as each served worker loads it: the same app, without a native library that
serving never uses.

PyJWT, which the LiveKit SDK imports for its `TokenVerifier` (webhooks and moderation
check HS256 tokens with it), sets up RSA, EC and EdDSA algorithms from the
`cryptography` package whenever that package is installed, and importing it loads
`cryptography`'s native bindings: about 9 MiB of every worker's RSS (bench/README.md,
"Worker memory"). `cryptography` is installed for the OIDC client, not for PyJWT (the
SDK asks for plain `pyjwt`, without its `crypto` extra), and nothing a worker does with
PyJWT uses those algorithms. So while the app's modules are imported, those bindings are
marked unimportable (`None` in `sys.modules`, the import system's documented way to
halt an import): PyJWT then sets itself up as it does without `cryptography`, with its
HMAC algorithms only. The mark is removed right after, so anything that needs
`cryptography` later (the OIDC client, when OIDC is configured) imports it as usual.
If the bindings are already loaded (another import came first), nothing changes.

`antechamber serve` (and the benchmarks' granian runner) point the server at
`app_from_env` here; `create_app` itself is unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

# What PyJWT's optional algorithms would load, and serving never uses.
KEPT_OUT = ("cryptography.hazmat.bindings._rust",)


@contextmanager
def kept_out(names: tuple[str, ...]) -> Iterator[None]:
    """Imports of `names` fail with ModuleNotFoundError inside the block (unless they
    are loaded already); the marks are removed on leaving it."""
    marked = [name for name in names if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in marked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def load_app() -> ModuleType:
    """`antechamber.app`, imported with PyJWT's unused native backend kept out."""
    with kept_out(KEPT_OUT):
        import antechamber.app

    return antechamber.app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and the `serve` command."""
    app: FastAPI = load_app().app_from_env()
    return app
