"""OpenID Connect login: authorization code flow with PKCE (Authlib).

The provider's discovery document and keys are fetched on first use and cached. The
per-login secrets (state, nonce, PKCE verifier, where to return) live in the shared
key-value store for a few minutes, so the callback may land on any process, and each
state is usable once.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from antechamber.auth.sessions import PENDING_LOGIN_PREFIX, KeyValueStore
from antechamber.errors import InvalidInput, PermissionDenied, UpstreamUnavailable
from antechamber.settings import OIDCSettings

PENDING_LOGIN_TTL_S = 600
METADATA_TTL_S = 3600
CLOCK_LEEWAY_S = 60


@dataclass(frozen=True)
class Identity:
    sub: str
    email: str | None
    name: str | None
    return_to: str


class OIDCClient:
    def __init__(self, settings: OIDCSettings, store: KeyValueStore) -> None:
        if not settings.issuer or not settings.client_id:
            raise ValueError("OIDC needs an issuer and a client id")
        self._settings = settings
        self._issuer = settings.issuer.rstrip("/")
        self._store = store
        self._http = httpx.AsyncClient(timeout=settings.timeout_s)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    async def close(self) -> None:
        await self._http.aclose()

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        secret = self._settings.client_secret
        return AsyncOAuth2Client(
            client_id=self._settings.client_id,
            client_secret=secret.get_secret_value() if secret else None,
            scope=self._settings.scopes,
            redirect_uri=self._settings.redirect_uri or redirect_uri,
            code_challenge_method="S256",
            timeout=self._settings.timeout_s,
            token_endpoint_auth_method="client_secret_post" if secret else "none",
        )

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._fetched_at > METADATA_TTL_S:
            url = f"{self._issuer}/.well-known/openid-configuration"
            self._metadata = await self._get_json(url)
            jwks: Any = await self._get_json(self._metadata["jwks_uri"])
            self._keys = KeySet.import_key_set(jwks)
            self._fetched_at = time.monotonic()
        return self._metadata

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UpstreamUnavailable("The identity provider is unavailable.") from exc
        if not isinstance(body, dict):
            raise UpstreamUnavailable("The identity provider answered something unexpected.")
        return body

    async def start(self, redirect_uri: str, return_to: str, silent: bool) -> str:
        """Remembers this login attempt and returns the provider URL to send the browser to."""
        metadata = await self.metadata()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        pending = {"verifier": verifier, "nonce": nonce, "return_to": return_to}
        await self._store.put(
            PENDING_LOGIN_PREFIX + state, json.dumps(pending), PENDING_LOGIN_TTL_S
        )
        extra = {"prompt": "none"} if silent else {}
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=verifier,
                **extra,
            )
        return str(url)

    async def abandon(self, state: str) -> str | None:
        """The provider sent the browser back without a code (a silent login it can't
        complete, a refusal): forgets the attempt, returns where it wanted to go back to."""
        raw = await self._store.pop(PENDING_LOGIN_PREFIX + state) if state else None
        if raw is None:
            return None
        return_to = json.loads(raw).get("return_to")
        return return_to if isinstance(return_to, str) else None

    async def finish(self, redirect_uri: str, state: str, code: str) -> Identity:
        raw = await self._store.pop(PENDING_LOGIN_PREFIX + state) if state else None
        if raw is None:
            raise PermissionDenied("This login attempt is unknown or expired; start again.")
        pending = json.loads(raw)
        metadata = await self.metadata()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=pending["verifier"]
                )
            except (httpx.HTTPError, httpx2.HTTPError) as exc:
                # Authlib's client is built on httpx2 (installed, so Authlib doesn't fall
                # back to httpx and warn at every start); our own calls use httpx.
                raise UpstreamUnavailable("The identity provider is unavailable.") from exc
            except Exception as exc:  # Authlib raises OAuthError subclasses for refusals.
                raise PermissionDenied(f"The identity provider refused the login: {exc}") from exc
        claims = self._verified_id_token(str(token.get("id_token", "")), pending["nonce"])
        claims.update(await self._userinfo(metadata, str(token.get("access_token", ""))))
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise PermissionDenied("The identity provider gave no subject.")
        return Identity(
            sub=sub,
            email=_str_or_none(claims.get("email")),
            name=_str_or_none(claims.get("name")),
            return_to=pending["return_to"],
        )

    def _verified_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        assert self._keys is not None
        assert self._settings.client_id is not None
        try:
            decoded = jwt.decode(id_token, self._keys)
            jwt.JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY_S,
                iss={"essential": True, "value": self._issuer},
                aud={"essential": True, "value": self._settings.client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise PermissionDenied(f"The ID token is not valid: {exc}") from exc
        return dict(decoded.claims)

    async def _userinfo(self, metadata: dict[str, Any], access_token: str) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not endpoint or not access_token:
            return {}
        try:
            response = await self._http.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError:
            return {}
        if response.status_code != 200:
            return {}
        try:
            body = response.json()
        except ValueError:  # not JSON (some providers answer a signed JWT): ID token only
            return {}
        # Never let userinfo change who the ID token says the user is.
        return {k: v for k, v in body.items() if k != "sub"} if isinstance(body, dict) else {}

    async def end_session_url(self) -> str | None:
        try:
            endpoint = (await self.metadata()).get("end_session_endpoint")
        except UpstreamUnavailable:
            return None
        return str(endpoint) if endpoint else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def safe_return_to(value: str | None, allowed_origins: list[str], own_origin: str) -> str:
    """Only to an allowed origin (or this service); anything else returns home."""
    if not value:
        return "/"
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    parsed = httpx.URL(value) if "://" in value else None
    if parsed is None or parsed.scheme not in ("http", "https"):
        raise InvalidInput("returnTo", "returnTo must be a path or an allowed origin's URL.")
    origin = f"{parsed.scheme}://{parsed.netloc.decode()}"
    if origin not in (*allowed_origins, own_origin):
        raise InvalidInput("returnTo", f"{origin} is not an allowed origin.")
    return value
