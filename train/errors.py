"""Errors a user can cause while training, and the ``--skip-bad`` policy.

Every problem with one input file (missing, unreadable, empty, NaN, unknown
label) goes through :class:`BadInputPolicy`: it raises :class:`DataError`
naming the file, or, with ``--skip-bad``, logs one warning and counts it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from monitor.errors import AudioInputError, CoughwatchError

log = logging.getLogger(__name__)


class DataError(CoughwatchError):
    """Training data is unusable: bad manifest, unknown label, too few clips, one class only."""


class BadClipError(AudioInputError):
    """One audio file cannot be used (missing, unreadable, empty, NaN/inf samples)."""


@dataclass
class BadInputPolicy:
    """Raise on the first per-file problem, or (``skip=True``) warn and count each one."""

    skip: bool = False
    """True = ``--skip-bad``: a bad file is left out with a warning."""
    problems: list[str] = field(default_factory=list)
    """One line per skipped file, in the order met."""

    def report(self, message: str) -> None:
        """Handle one per-file problem described by ``message`` (names the file)."""
        if not self.skip:
            raise DataError(f"{message} (use --skip-bad to leave such files out)")
        log.warning("skipping: %s", message)
        self.problems.append(message)

    @property
    def skipped(self) -> int:
        """How many files were left out."""
        return len(self.problems)
