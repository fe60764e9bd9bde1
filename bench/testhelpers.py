"""Reuse of the test fixtures' plain helpers (``tests/fx_*.py``) from the bench.

They start real components (PulseAudio null sink, mosquitto, ``mosquitto_sub``)
exactly as the tests do; importing them needs the ``[dev]`` extra (pytest).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

TESTS_DIR: Final = Path(__file__).resolve().parent.parent / "tests"


def fixture_module(name: str) -> ModuleType:
    """Import ``tests/<name>.py`` (e.g. ``fx_pulse``), putting ``tests/`` on ``sys.path``."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RuntimeError(f"tests/{name}.py cannot be imported ({exc}); "
                           "install the dev extra: pip install -e '.[dev]'") from None
