"""The web client's numbers: JavaScript shipped (gzipped), build time, and the time from
clicking "Join" to the first decoded frame of a remote video (p50 of 10 joins).

Runs on loopback only: a real livekit-server (the binary from scripts/livekit-server.sh,
or ANTECHAMBER_TEST_LIVEKIT_SERVER), `antechamber serve` on a temporary SQLite file with
the development login, and Debian's Chromium (/usr/bin/chromium) with a fake camera and
microphone, driven by Playwright. A host joins a public room; each of 10 guests joins in a
fresh browser context and the page's own marks (`antechamber-join` when Join is clicked,
`antechamber-first-remote-frame` at the first remote video frame) give the time. Every
server started here is stopped by its PID.

    uv run python -m bench.webclient
"""

from __future__ import annotations

import asyncio
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.async_api import async_playwright
from tests.livekit_server import livekit_binary, start_livekit
from tests.servers import free_port

from antechamber import webclient

JOINS = 10
KEY, SECRET = "bench-key", "bench-secret-0123456789abcdef0123456789"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
FRAME_TIMEOUT_MS = 30_000


def build() -> float:
    started = time.perf_counter()
    subprocess.run(["npm", "run", "build"], cwd=webclient.SOURCE, check=True, capture_output=True)
    return time.perf_counter() - started


def shipped_js_gzip_kib(dist: Path) -> tuple[float, float]:
    raw = gz = 0
    for path in (dist / "assets").glob("*.js"):
        data = path.read_bytes()
        raw += len(data)
        gz += len(gzip.compress(data, compresslevel=9))
    return raw / 1024, gz / 1024


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("antechamber serve exited")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("antechamber serve did not start")


async def joins(base: str) -> list[float]:
    results = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            host_context = await browser.new_context(base_url=base)
            host = await host_context.new_page()
            await host.goto("/")
            await host.get_by_label("Email (development login)").fill("bench@example.com")
            await host.get_by_role("button", name="Log in for development").click()
            await host.get_by_label("Meeting name").fill("Bench room")
            await host.get_by_label("Who can enter").select_option("public")
            await host.get_by_role("button", name="Create meeting").click()
            await host.get_by_label("Your name").fill("Host")
            await host.get_by_role("button", name="Join meeting").click()
            await host.get_by_role("button", name="Leave").wait_for()
            slug = host.url.rstrip("/").rsplit("/", 1)[-1]
            for index in range(JOINS):
                context = await browser.new_context(base_url=base)
                page = await context.new_page()
                await page.goto(f"/{slug}")
                await page.get_by_label("Your camera preview").wait_for()
                await page.get_by_label("Your name").fill(f"Guest {index}")
                await page.get_by_role("button", name="Join meeting").click()
                await page.wait_for_function(
                    "performance.getEntriesByName('antechamber-first-remote-frame').length > 0",
                    timeout=FRAME_TIMEOUT_MS,
                )
                elapsed = await page.evaluate(
                    """() => {
                      const at = (name) => performance.getEntriesByName(name)[0].startTime;
                      return at('antechamber-first-remote-frame') - at('antechamber-join');
                    }"""
                )
                results.append(float(elapsed))
                print(f"join {index + 1}: {elapsed:.0f} ms", flush=True)
                await context.close()
        finally:
            await browser.close()
    return results


def main() -> int:
    build_s = build()
    raw_kib, gz_kib = shipped_js_gzip_kib(webclient.SOURCE / "dist")
    print(f"build time (npm run build: tsc + vite): {build_s:.1f} s")
    print(f"JavaScript shipped: {raw_kib:.0f} KiB, gzipped (level 9): {gz_kib:.1f} KiB")
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        livekit = start_livekit(
            livekit_binary(),
            Path(folder),
            KEY,
            SECRET,
            f"{base}/api/v1.0/rooms/webhooks-livekit/",
        )
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANTECHAMBER_", "LIVEKIT_", "DATABASE_", "REDIS_"))
        }
        env.update(
            {
                "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
                "ANTECHAMBER_DEV_LOGIN_ENABLED": "true",
                "ANTECHAMBER_LOG_LEVEL": "warning",
                "ANTECHAMBER_FRONTEND_DIR": str(webclient.SOURCE / "dist"),
                "LIVEKIT_URL": livekit.url,
                "LIVEKIT_API_KEY": KEY,
                "LIVEKIT_API_SECRET": SECRET,
            }
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "antechamber.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_up(base, server)
            times = asyncio.run(joins(base))
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            livekit.stop()
    print(
        f"Join -> first remote video frame over {len(times)} joins: "
        f"p50 {statistics.median(times):.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
