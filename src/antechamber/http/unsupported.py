"""Calls La Suite Meet's front end can make that this service doesn't offer: a clear
404 with the reason (the front end hides these features, as `config/` reports them
disabled), never a 404 that reads like a missing room, never a 500."""

from __future__ import annotations

from typing import NoReturn

from fastapi import APIRouter

from antechamber.errors import NotOffered
from antechamber.http.openapi import errors

router = APIRouter(tags=["not offered"])
_RESPONSES = errors(404)


def _refuse(feature: str) -> NoReturn:
    raise NotOffered(f"{feature} is not offered by this service.")


@router.post("/rooms/{room_key}/start-recording/", responses=_RESPONSES, status_code=404)
async def start_recording(room_key: str) -> None:
    _refuse("Recording")


@router.post("/rooms/{room_key}/stop-recording/", responses=_RESPONSES, status_code=404)
async def stop_recording(room_key: str) -> None:
    _refuse("Recording")


@router.get("/recordings/{recording_id}/", responses=_RESPONSES, status_code=404)
async def get_recording(recording_id: str) -> None:
    _refuse("Recording")


@router.post("/rooms/{room_key}/start-subtitle/", responses=_RESPONSES, status_code=404)
async def start_subtitle(room_key: str) -> None:
    _refuse("Subtitling")


@router.get("/files/", responses=_RESPONSES, status_code=404)
async def list_files() -> None:
    _refuse("Uploading background images")


@router.post("/files/", responses=_RESPONSES, status_code=404)
async def create_file() -> None:
    _refuse("Uploading background images")


@router.delete("/files/{file_id}/", responses=_RESPONSES, status_code=404)
async def delete_file(file_id: str) -> None:
    _refuse("Uploading background images")
