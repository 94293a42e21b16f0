"""A built front end served from a folder: its files, index.html for every other page,
and a clear 404 (never a 500) when the folder has no index.html."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from antechamber.app import create_app
from antechamber.checks import run_checks
from antechamber.settings import LiveKitSettings
from tests.conftest import Backend, Browser, make_settings, running
from tests.servers import free_port


async def _browser_for(folder: Path, sqlite_backend: Backend) -> AsyncIterator[Browser]:
    app = create_app(make_settings(sqlite_backend, frontend_dir=folder))
    async with running(app), Browser(app) as browser:
        yield browser


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<html>meet</html>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("not served")
    return tmp_path


@pytest.fixture
async def site(built: Path, sqlite_backend: Backend) -> AsyncIterator[Browser]:
    async for browser in _browser_for(built, sqlite_backend):
        yield browser


@pytest.fixture
async def empty_site(tmp_path: Path, sqlite_backend: Backend) -> AsyncIterator[Browser]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    async for browser in _browser_for(tmp_path, sqlite_backend):
        yield browser


async def test_it_serves_the_files_of_the_folder(site: Browser) -> None:
    response = await site.get("/assets/app.js")

    assert response.status_code == 200
    assert response.text == "console.log(1)"


@pytest.mark.parametrize("path", ["/", "/some-room-slug", "/home/deep/path"])
async def test_it_answers_index_html_for_every_other_page(site: Browser, path: str) -> None:
    response = await site.get(path)

    assert response.status_code == 200
    assert response.text == "<html>meet</html>"


async def test_it_never_serves_a_file_outside_the_folder(site: Browser) -> None:
    response = await site.get("/..%2Fsecret.txt")

    assert "not served" not in response.text


async def test_it_keeps_unknown_api_paths_404(site: Browser) -> None:
    response = await site.get("/api/v1.0/no-such-thing/")

    assert response.status_code == 404
    # The API's own 404, as without a front end: JSON, not the front end's index.html.
    assert response.json()["detail"].lower().startswith("not found")


@pytest.mark.parametrize("path", ["/", "/some-room-slug"])
async def test_it_answers_404_not_500_without_index_html(empty_site: Browser, path: str) -> None:
    response = await empty_site.get(path)

    assert response.status_code == 404
    assert "index.html" in response.json()["detail"]
    assert (await empty_site.get("/assets/app.js")).status_code == 200


async def test_the_check_command_names_a_folder_without_index_html(
    tmp_path: Path, sqlite_backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        sqlite_backend,
        frontend_dir=tmp_path,
        livekit=LiveKitSettings(url=f"ws://127.0.0.1:{free_port()}", timeout_s=1),
    )

    assert await run_checks(settings) == 1
    assert f"FAIL front end: {tmp_path} has no index.html" in capsys.readouterr().err
