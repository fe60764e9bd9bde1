"""Where the monitor keeps state that must survive restarts (the MQTT outbox)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from monitor.errors import ConfigError

APP_DIR: Final = "coughwatch"


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$STATE_DIRECTORY`` (systemd ``StateDirectory=``, first entry), else
    ``$XDG_STATE_HOME/coughwatch``, else ``~/.local/state/coughwatch``."""
    env = os.environ if environ is None else environ
    systemd_dirs = env.get("STATE_DIRECTORY", "")
    if systemd_dirs:
        return Path(systemd_dirs.split(":")[0])
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg:
        return Path(xdg) / APP_DIR
    return Path(env.get("HOME") or Path.home()) / ".local" / "state" / APP_DIR


def resolve_state_dir(override: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """``override`` (``--state-dir``) or :func:`default_state_dir`, created if missing.

    Raises :class:`ConfigError` when the directory cannot be created.
    """
    state_dir = override if override is not None else default_state_dir(environ)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"state directory {state_dir}: {exc.strerror or exc}") from exc
    if not state_dir.is_dir():
        raise ConfigError(f"state directory {state_dir}: not a directory")
    return state_dir
