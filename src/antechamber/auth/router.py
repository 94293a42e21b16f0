"""Login (OpenID Connect, or the development login), logout and the user's own profile."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import RedirectResponse

from antechamber.auth.sessions import SessionService
from antechamber.errors import NotFound
from antechamber.http import csrf
from antechamber.http.csrf import request_origin
from antechamber.http.deps import SESSION_COOKIE, AppSettings, CurrentUser, Db, Oidc, Sessions
from antechamber.http.openapi import errors
from antechamber.request_body import RequestBody
from antechamber.settings import Settings
from antechamber.users import service as users
from antechamber.users.schemas import EmailAddress, UserOut, UserUpdate

router = APIRouter(tags=["auth"])


def _set_session_cookie(
    response: Response, settings: Settings, sessions: SessionService, session_id: str
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=sessions.ttl_s,
        httponly=True,
        secure=settings.is_production,
        samesite="lax",
        path="/",
    )


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


@router.get(
    "/authenticate/",
    status_code=302,
    responses={302: {"description": "to the provider"}, **errors(404, 502)},
)
async def authenticate(
    request: Request,
    settings: AppSettings,
    oidc: Oidc,
    return_to: Annotated[str | None, Query(alias="returnTo", max_length=2000)] = None,
    silent: bool = False,
) -> RedirectResponse:
    if oidc is None:
        raise NotFound("OpenID Connect login is not configured.")
    # Here, not at the top: the OIDC module (Authlib, httpx) loads only where OIDC is on.
    from antechamber.auth.oidc import safe_return_to

    target = safe_return_to(return_to, settings.allowed_origins, request_origin(request))
    url = await oidc.start(_callback_url(request), target, silent)
    return RedirectResponse(url, status_code=302)


@router.get(
    "/callback/",
    name="oidc_callback",
    status_code=302,
    responses={302: {"description": "back"}, **errors(403, 404, 502)},
)
async def callback(
    request: Request,
    settings: AppSettings,
    sessions: Sessions,
    oidc: Oidc,
    db: Db,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> RedirectResponse:
    if oidc is None:
        raise NotFound("OpenID Connect login is not configured.")
    if error is not None or not code:
        # e.g. a silent login the provider can't complete without the user: back to the
        # page it started from (checked when the attempt began), still anonymous.
        return RedirectResponse(await oidc.abandon(state) or "/", status_code=302)
    identity = await oidc.finish(_callback_url(request), state, code)
    user = await users.upsert_from_claims(db, identity.sub, identity.email, identity.name)
    response = RedirectResponse(identity.return_to, status_code=302)
    _set_session_cookie(response, settings, sessions, await sessions.create(user.id))
    return response


@router.get("/logout/", status_code=302, responses={302: {"description": "logged out"}})
async def logout(
    request: Request, settings: AppSettings, sessions: Sessions, oidc: Oidc
) -> RedirectResponse:
    # A GET, so the double-submit check can't guard it: another site could log people out
    # with an image tag. Browsers say where a request comes from; refuse other sites.
    csrf.refuse_cross_site(request, settings.allowed_origins)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await sessions.destroy(session_id)
    target = "/"
    if oidc is not None:
        target = await oidc.end_session_url() or "/"
    response = RedirectResponse(target, status_code=302)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=settings.is_production,
        httponly=True,
        samesite="lax",
    )
    return response


class DevLogin(RequestBody):
    email: EmailAddress


@router.post("/dev-login/", response_model=UserOut, responses=errors(404))
async def dev_login(
    body: DevLogin, settings: AppSettings, sessions: Sessions, db: Db, response: Response
) -> UserOut:
    if not settings.dev_login_enabled:
        raise NotFound("Not found.")
    email = str(body.email).lower()
    name = email.split("@", 1)[0]
    user = await users.upsert_from_claims(db, f"dev|{email}", email, name)
    _set_session_cookie(response, settings, sessions, await sessions.create(user.id))
    return UserOut.of(user)


@router.get("/users/me/", response_model=UserOut, responses=errors(401))
async def me(user: CurrentUser) -> UserOut:
    return UserOut.of(user)


async def _update_user(
    db: Db,
    user: CurrentUser,
    user_id: uuid.UUID,
    body: Annotated[UserUpdate, Body(default_factory=UserUpdate)],
) -> UserOut:
    return UserOut.of(await users.update(db, user, user_id, body))


# One route per method: a route with two methods gets one operationId twice in the schema.
for _method, _name in (("PUT", "replace_user"), ("PATCH", "update_user")):
    router.add_api_route(
        "/users/{user_id:uuid}/",
        _update_user,
        methods=[_method],
        response_model=UserOut,
        name=_name,
        responses=errors(401, 403, 404),
    )
