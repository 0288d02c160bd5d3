"""Where the console keeps its window state between runs: an INI file, not the registry or the user's
home when told otherwise (`RAVE_ENGINE_CONSOLE_SETTINGS=PATH`, which the tests set)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtCore

SETTINGS_ENV = "RAVE_ENGINE_CONSOLE_SETTINGS"


def settings_path() -> Path:
    given = os.environ.get(SETTINGS_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rave-engine" / "console.ini"


def console_settings() -> QtCore.QSettings:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat)
