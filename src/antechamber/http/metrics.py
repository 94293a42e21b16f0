"""`GET /metrics`: Prometheus' text format, for whoever holds the metrics token."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from antechamber.errors import NotAuthenticated, NotFound
from antechamber.http.deps import AppSettings, MetricsDep
from antechamber.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["service"])


@router.get(
    "/metrics",
    include_in_schema=False,
    responses={401: {"description": "no or a wrong bearer token"}, 404: {"description": "off"}},
)
async def metrics(request: Request, settings: AppSettings, metrics: MetricsDep) -> Response:
    token = settings.metrics_token
    if token is None:
        # Not public by default: without a token configured there is nothing here.
        raise NotFound("Not found.")
    given = request.headers.get("authorization", "")
    scheme, _, credentials = given.partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        credentials.strip().encode(), expected
    ):
        raise NotAuthenticated("A valid metrics bearer token is required.")
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)
