"""The OpenAPI schema as the service really answers, and its docs from local files.

Each route declares the errors it can answer with `errors(...)`. The rest is added to
every operation here, from what is true of all of them: a 400 with the field -> messages
body wherever a parameter or body is validated, 413 wherever a body is read, 503 wherever
a database, Redis or LiveKit is reached. FastAPI's 422 is dropped: validation errors
answer 400 (see `http/errors.py`), so a 422 never happens.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, RootModel
from starlette.staticfiles import StaticFiles

# Swagger UI (Apache-2.0) and Redoc (MIT) as built files shipped by the fastapi-offline
# package (MIT): the docs load nothing from another site.
_DOCS_PACKAGE = "fastapi_offline"


class ErrorBody(BaseModel):
    detail: str


class BadRequestBody(RootModel[dict[str, str | list[str]]]):
    """`{"<field>": ["<reason>", ...]}` for invalid fields (`non_field_errors` for the
    body as a whole), or `{"detail": "<reason>"}`."""


_DESCRIPTIONS = {
    400: "invalid input: each field named with its reasons",
    401: "not logged in (or no valid LiveKit token where one is needed)",
    403: "not allowed (role, CSRF check, ban)",
    404: "no such object",
    409: "conflicts with the current state",
    413: "body too large",
    429: "too many requests; retry after Retry-After seconds",
    502: "LiveKit answered with an error",
    503: "a dependency (database, Redis, LiveKit) is unavailable; retry later",
}
# What the edge refuses (see `http/edge.py` and `request_body.py`), told to the schema so that
# what it calls valid is accepted: control characters in query parameters (C0 and DEL)
# and in any string of a body (C0, DEL and C1), dictionary keys included.
_QUERY_TEXT = r"^[^\x00-\x1f\x7f]*$"
_BODY_TEXT = r"^[^\x00-\x1f\x7f-\x9f]*$"
_RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}
# Reached without a database, Redis or LiveKit.
_NO_DEPENDENCY = frozenset({"/healthz", "/readyz", "/api/v1.0/config/"})


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can answer these errors."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model: type[BaseModel] = BadRequestBody if code == 400 else ErrorBody
        response: dict[str, Any] = {"description": _DESCRIPTIONS[code], "model": model}
        if code == 429:
            response["headers"] = {
                name: {**header, "required": True} for name, header in _RETRY_AFTER.items()
            }
        out[code] = response
    return out


def install(app: FastAPI, api_prefix: str) -> None:
    """Serves the schema and its docs under `api_prefix` (e.g. /api/v1.0)."""
    schema_url = f"{api_prefix}/openapi.json"
    static_url = f"{api_prefix}/docs/static"
    # Found without importing the package (its Python half, unused here, would be loaded
    # into every worker for nothing): only its static files are served.
    spec = find_spec(_DOCS_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {_DOCS_PACKAGE} package (the API docs' files) is missing")
    static_dir = Path(spec.origin).parent / "static"
    app.mount(static_url, StaticFiles(directory=str(static_dir)), name="docs-static")

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _truthful(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]

    @app.get(schema_url, include_in_schema=False)
    async def openapi_json() -> dict[str, Any]:
        return schema()

    @app.get(f"{api_prefix}/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=schema_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{static_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{static_url}/swagger-ui.css",
            swagger_favicon_url=f"{static_url}/favicon.png",
        )

    @app.get(f"{api_prefix}/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=schema_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{static_url}/redoc.standalone.js",
            redoc_favicon_url=f"{static_url}/favicon.png",
            with_google_fonts=False,
        )


def _truthful(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for model in (ErrorBody, BadRequestBody):
        components.setdefault(
            model.__name__, model.model_json_schema(ref_template="#/components/schemas/{model}")
        )
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if operation.get("tags") == ["not offered"]:
                # Not offered at all: it answers 501 and nothing else.
                responses.pop("200", None)
                responses.pop("422", None)
                continue
            responses.pop("422", None)
            for code, response in responses.items():
                if code.startswith("3") or code == "204":
                    response.pop("content", None)  # a redirect or no content: no body
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _no_controls(parameter.get("schema", {}), _QUERY_TEXT, components, set())
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _no_controls(media.get("schema", {}), _BODY_TEXT, components, set())
            if operation.get("parameters") or "requestBody" in operation:
                _add(responses, 400)
            if "requestBody" in operation:
                _add(responses, 413)
            if path not in _NO_DEPENDENCY:
                _add(responses, 503)
    return schema


def _no_controls(node: Any, pattern: str, components: dict[str, Any], seen: set[str]) -> None:
    """Adds `pattern` to every free string under `node` (following $refs once)."""
    if isinstance(node, list):
        for item in node:
            _no_controls(item, pattern, components, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen and name in components:
            seen.add(name)
            _no_controls(components[name], pattern, components, seen)
    if node.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(node):
        node["pattern"] = pattern
    if node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        node.setdefault("propertyNames", {}).setdefault("pattern", pattern)
    for value in node.values():
        _no_controls(value, pattern, components, seen)


def _add(responses: dict[str, Any], code: int) -> None:
    if str(code) in responses:
        return
    model = "BadRequestBody" if code == 400 else "ErrorBody"
    entry: dict[str, Any] = {
        "description": _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }
    if code == 503:
        entry["headers"] = _RETRY_AFTER
    responses[str(code)] = entry
