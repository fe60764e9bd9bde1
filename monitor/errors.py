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


# Exit statuses shared by cough-train, cough-export and cough-monitor.
EXIT_OK = 0
EXIT_FAILURE = 1
"""A user-caused error (bad file, bad model, bad config, ...): one line on stderr."""
EXIT_USAGE = 2
"""Bad command line (argparse's own status)."""
EXIT_PARTIAL = 3
"""Several inputs: some failed, the good ones were still processed."""
EXIT_UNDELIVERED = 4
"""Events were produced but some are still waiting in the MQTT outbox."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT), as shells report it."""


def report_error(prog: str, exc: BaseException) -> int:
    """Print ``prog: error: <one line>`` to stderr and return :data:`EXIT_FAILURE`."""
    import sys

    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_FAILURE
