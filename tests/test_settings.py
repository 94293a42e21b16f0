"""Settings that can't run the service safely are refused before it starts."""

from __future__ import annotations

import pytest

from antechamber.settings import (
    DEVELOPMENT_SECRET,
    ConfigurationError,
    LiveKitSettings,
    RedisSettings,
    Settings,
)

GOOD_SECRET = "a-proper-random-secret-of-enough-length-0123456789"
GOOD_LIVEKIT = LiveKitSettings(api_key="key", api_secret="a-real-livekit-secret-0123456789")


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "production",
        "secret_key": GOOD_SECRET,
        "livekit": GOOD_LIVEKIT,
        "redis": RedisSettings(url="redis://127.0.0.1:6379/0"),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.mark.usefixtures("clean_env")
def test_it_accepts_proper_production_settings() -> None:
    settings = production(workers=4)

    assert settings.is_production
    assert not settings.dev_login_enabled


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"secret_key": DEVELOPMENT_SECRET}, "ANTECHAMBER_SECRET_KEY"),
        ({"secret_key": "short"}, "ANTECHAMBER_SECRET_KEY"),
        ({"secret_key": "x" * 31}, "ANTECHAMBER_SECRET_KEY"),
        ({"dev_login_enabled": True}, "ANTECHAMBER_DEV_LOGIN_ENABLED"),
        ({"livekit": LiveKitSettings()}, "LIVEKIT_API_SECRET"),
        ({"workers": 2, "redis": RedisSettings(url=None)}, "REDIS_URL"),
    ],
)
def test_it_refuses_unsafe_production_settings(
    overrides: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint) as refused:
        production(**overrides)

    assert GOOD_SECRET not in str(refused.value)


@pytest.mark.usefixtures("clean_env")
def test_it_refuses_several_workers_without_redis_in_development_too() -> None:
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        Settings(workers=2)


@pytest.mark.usefixtures("clean_env")
def test_it_reports_every_problem_at_once() -> None:
    with pytest.raises(ConfigurationError) as refused:
        production(secret_key="short", dev_login_enabled=True)

    assert "ANTECHAMBER_SECRET_KEY" in str(refused.value)
    assert "ANTECHAMBER_DEV_LOGIN_ENABLED" in str(refused.value)
    assert "short" not in str(refused.value).replace("shorter", "")


def test_it_reads_the_environment(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> None:
    monkeypatch.setenv("ANTECHAMBER_ENVIRONMENT", "production")
    monkeypatch.setenv("ANTECHAMBER_SECRET_KEY", "short")
    monkeypatch.setenv("ANTECHAMBER_DEV_LOGIN_ENABLED", "true")

    with pytest.raises(ConfigurationError, match="ANTECHAMBER_DEV_LOGIN_ENABLED"):
        Settings()
