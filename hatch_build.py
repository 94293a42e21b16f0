"""Wheel build hook: ships Antechamber's web client built, as `antechamber/web/`.

Builds `web/` with npm when its build is missing or older than its sources (and npm is
there); editable installs (`uv sync`) are left alone, they serve `web/dist` directly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebClientBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location(
            "_antechamber_webclient", root / "src" / "antechamber" / "webclient.py"
        )
        assert spec is not None
        assert spec.loader is not None
        webclient = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = webclient  # dataclasses look their module up there
        spec.loader.exec_module(webclient)
        outcome = webclient.prepare(root / "web")
        self.app.display_info(outcome.message)
        dist = root / "web" / "dist"
        if (dist / "index.html").is_file():
            build_data["force_include"][str(dist)] = "antechamber/web"
        else:
            self.app.display_warning("the wheel ships without the web client")
