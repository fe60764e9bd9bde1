"""Spotting an audio file whose header promises more audio than the file holds.

libsndfile reads such a file (a WAV cut short by a full disk or an interrupted
copy) without an error, up to where the data ends, and notes the mismatch in its
header dump (``soundfile.info(path).extra_info``): ``data : 128000 (should be
63960)``. Replay treats it like a truncated raw stream on stdin: the audio that
is there is scored, then the file is reported as failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_DATA_LINE: Final = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_BLOCK_ALIGN: Final = re.compile(r"^\s*Block Align\s*:\s*(\d+)", re.MULTILINE)
STREAMING_SIZES: Final = frozenset({0, 0xFFFFFFFF, 0x7FFFFFFF})
"""Data sizes that writers streaming to a pipe put in the header: unknown, not wrong."""


@dataclass(frozen=True)
class Truncation:
    """The header's data size and what the file holds, in bytes."""

    declared_bytes: int
    present_bytes: int
    block_align: int | None
    """Bytes per frame, when the header says."""

    def describe(self, sample_rate: int) -> str:
        """``truncated file: its header declares 4.000 s of audio, only 1.999 s is there``."""
        if self.block_align:
            frames = self.block_align * sample_rate
            return (f"truncated file: its header declares {self.declared_bytes / frames:.3f} s "
                    f"of audio, only {self.present_bytes / frames:.3f} s is there")
        return (f"truncated file: its header declares {self.declared_bytes} bytes of audio, "
                f"only {self.present_bytes} are there")


def truncation(extra_info: str) -> Truncation | None:
    """The truncation libsndfile noted in ``extra_info``, or None when the sizes agree."""
    found = _DATA_LINE.search(extra_info)
    if found is None:
        return None
    declared, present = int(found[1]), int(found[2])
    if declared in STREAMING_SIZES or declared <= present:
        return None
    align = _BLOCK_ALIGN.search(extra_info)
    return Truncation(declared, present, int(align[1]) if align else None)
