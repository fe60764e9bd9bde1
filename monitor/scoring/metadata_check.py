"""Type checks for the JSON inside a model file's metadata, so a hand-edited or foreign file
is one clear line (``feature_spec.sample_rate must be an integer, not '16000'``), never a
``TypeError`` deep inside the monitor.

Only types and finiteness are checked here; ranges are checked where the values are used
(:class:`~monitor.scoring.modelfile.ModelInfo`, :class:`~monitor.scoring.detector.DetectorSettings`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, Final

from monitor.errors import ModelFileError

SPEC_TYPES: Final[dict[str, str]] = {
    "sample_rate": "int", "window_samples": "int", "n_fft": "int", "hop_length": "int",
    "n_mels": "int", "f_min": "number", "f_max": "number", "log_offset": "number",
    "log": "bool", "normalize": "str", "center": "bool",
}  # fmt: skip
"""``feature_spec`` key -> the JSON type it must have (see ``FeatureSpecInfo``)."""
_WORDS: Final = {"int": "an integer", "number": "a finite number", "bool": "true or false",
                 "str": "a string"}


def checked_feature_spec(raw: str, source: str) -> dict[str, Any]:
    """The ``feature_spec`` JSON object, every known key of the right type.

    Unknown or missing keys are left to the ``FeatureSpecInfo`` constructor.
    Raises :class:`ModelFileError` naming the key.
    """
    data = _json(raw, "feature_spec", source)
    if not isinstance(data, dict):
        raise ModelFileError(f"{source}: metadata feature_spec must be a JSON object")
    for key, value in data.items():
        kind = SPEC_TYPES.get(key)
        if kind is not None and not _is(kind, value):
            raise ModelFileError(
                f"{source}: metadata feature_spec.{key} must be {_WORDS[kind]}, not {value!r}")
    return data


def checked_detector_defaults(raw: str | None, keys: Iterable[str], source: str) -> dict[str, float]:
    """The ``detector`` JSON object reduced to ``keys``, each a finite number.

    ``raw`` None or empty: no defaults. Raises :class:`ModelFileError` naming the problem.
    """
    if not raw:
        return {}
    data = _json(raw, "detector", source)
    if not isinstance(data, dict):
        raise ModelFileError(f"{source}: metadata 'detector' must be a JSON object, "
                             f"not {type(data).__name__}")
    wanted = set(keys)
    for key, value in data.items():
        if key in wanted and not _is("number", value):
            raise ModelFileError(
                f"{source}: metadata detector.{key} must be a finite number, not {value!r}")
    return {key: float(value) for key, value in data.items() if key in wanted}


def _json(raw: str, name: str, source: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ModelFileError(f"{source}: unreadable '{name}' metadata (not JSON)") from None


def _is(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):  # JSON true is not a number here
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, str)
