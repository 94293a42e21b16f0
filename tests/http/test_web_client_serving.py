"""The web client served at `/`: files, index.html for app paths, never a 500 when the
build is missing, and `serve`'s build step saying what it did without Node."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from antechamber import webclient
from antechamber.app import create_app
from tests.conftest import Backend, Browser, make_settings, running


def built(folder: Path) -> Path:
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>client</title>")
    (folder / "assets" / "app-abc123.js").write_text("console.log(1)")
    return folder


async def test_serves_files_and_index_for_app_paths(
    sqlite_backend: Backend, tmp_path: Path
) -> None:
    dist = built(tmp_path / "dist")
    app = create_app(make_settings(sqlite_backend, frontend_dir=dist))
    async with running(app), Browser(app) as browser:
        index = await browser.get("/")
        assert index.status_code == 200
        assert "<title>client</title>" in index.text
        assert index.headers["cache-control"] == "no-cache"
        room = await browser.get("/weekly-review")
        assert room.text == index.text
        asset = await browser.get("/assets/app-abc123.js")
        assert asset.text == "console.log(1)"
        assert "immutable" in asset.headers["cache-control"]
        api = await browser.get("/api/v1.0/no-such-thing/")
        assert api.status_code == 404
        assert "detail" in api.json()
        assert (await browser.post("/weekly-review", json={})).status_code in (404, 405)
        assert (await browser.get("/%00weird")).status_code == 200
        assert (await browser.get("/../../etc/passwd")).text == index.text


async def test_missing_build_answers_a_page_not_a_500(
    sqlite_backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service's own client, never built (a configured ANTECHAMBER_FRONTEND_DIR without
    # index.html answers a JSON 404 instead: tests/http/test_frontend_folder.py).
    monkeypatch.setattr(webclient, "default_dist", lambda: tmp_path / "nothing")
    app = create_app(make_settings(sqlite_backend))
    async with running(app), Browser(app) as browser:
        page = await browser.get("/some-room")
        assert page.status_code == 404
        assert "not built" in page.text
        assert "npm --prefix web ci" in page.text
        assert (await browser.get("/api/v1.0/config/")).status_code == 200


def source_tree(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "package.json").write_text("{}")
    (root / "src" / "main.ts").write_text("export {};")
    return root


def test_without_npm_the_service_says_how_to_get_the_client(tmp_path: Path) -> None:
    source = source_tree(tmp_path / "web")
    outcome = webclient.prepare(source, npm=None, which=lambda _name: None)
    assert not outcome.served
    assert "npm is missing" in outcome.message
    assert "Node.js" in outcome.message


def test_stale_build_is_detected_and_fresh_one_is_kept(tmp_path: Path) -> None:
    source = source_tree(tmp_path / "web")
    assert webclient.is_stale(source)  # no build yet
    built(source / "dist")
    later = time.time() + 10
    os.utime(source / "dist" / "index.html", (later, later))
    assert not webclient.is_stale(source)
    outcome = webclient.prepare(source, npm=None, which=lambda _name: None)
    assert outcome.served
    assert "up to date" in outcome.message
    newer = later + 10
    os.utime(source / "src" / "main.ts", (newer, newer))
    assert webclient.is_stale(source)
    outcome = webclient.prepare(source, npm=None, which=lambda _name: None)
    assert outcome.served  # the old build is still served
    assert "serving the old build" in outcome.message


def test_repository_client_sources_are_where_serve_looks() -> None:
    assert (webclient.SOURCE / "src" / "main.ts").is_file()
    assert webclient.default_dist() in (webclient.PACKAGED, webclient.SOURCE / "dist")
