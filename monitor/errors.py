"""The one error type a user can cause, and how the CLIs report it.

Anything raised as :class:`CoughwatchError` (or a subclass) is printed by the
command-line entry points as a single line ``error: <message>`` on stderr with a
non-zero exit status, never as a traceback.
"""

from __future__ import annotations


class CoughwatchError(Exception):
    """A problem the user can fix: bad input, bad config, missing file, ..."""


class ModelFileError(CoughwatchError):
    """The model file is missing, not ONNX, or not a coughwatch model."""


class AudioInputError(CoughwatchError):
    """Audio could not be read or is unusable (corrupt, empty, NaN, bad rate)."""


class ConfigError(CoughwatchError):
    """Settings (TOML, environment, flags) are invalid."""
