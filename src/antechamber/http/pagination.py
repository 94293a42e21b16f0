"""`{"count","next","previous","results"}` pages, as the front end expects."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel

T = TypeVar("T")
MAX_PAGE_SIZE = 100


class Page(BaseModel, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: list[T]


class PageParams(BaseModel):
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


async def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


def make_page(request: Request, params: PageParams, count: int, results: list[T]) -> Page[T]:
    def link(page: int) -> str:
        return str(request.url.include_query_params(page=page, page_size=params.page_size))

    has_next = params.offset + len(results) < count
    return Page[T](
        count=count,
        next=link(params.page + 1) if has_next else None,
        previous=link(params.page - 1) if params.page > 1 else None,
        results=results,
    )
