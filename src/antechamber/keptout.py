"""Imports made with a native library that nothing here uses kept out of them.

PyJWT, which the LiveKit SDK imports for its `TokenVerifier` and `AccessToken` (webhooks
and moderation check HS256 tokens with it), sets up RSA, EC and EdDSA algorithms from the
`cryptography` package whenever that package is installed, and importing it loads
`cryptography`'s native bindings: about 9 MiB of a process' RSS (bench/README.md,
"Worker memory"). `cryptography` is installed for the OIDC client, not for PyJWT (the
SDK asks for plain `pyjwt`, without its `crypto` extra), and nothing the service does
with PyJWT uses those algorithms. So while PyJWT is imported, those bindings are marked
unimportable (`None` in `sys.modules`, the import system's documented way to halt an
import): PyJWT then sets itself up as it does without `cryptography`, with its HMAC
algorithms only. The mark is removed right after, so anything that needs `cryptography`
later (the OIDC client, when OIDC is configured) imports it as usual. If the bindings are
already loaded (another import came first), nothing changes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

# What PyJWT's optional algorithms would load, and the service never uses.
PYJWT_NATIVE = ("cryptography.hazmat.bindings._rust",)


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
