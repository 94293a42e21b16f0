"""A real OpenID Connect provider (oidc-provider-mock) on a free loopback port, for the
login tests over HTTP and in the browser."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import oidc_provider_mock


@contextmanager
def oidc_provider() -> Iterator[str]:
    """Runs the provider; yields its issuer, exactly as its discovery document reports it."""
    with oidc_provider_mock.run_server_in_thread(port=0, require_nonce=True) as server:
        issuer = httpx.get(
            f"http://localhost:{server.server_port}/.well-known/openid-configuration"
        ).json()["issuer"]
        yield str(issuer)
