"""What ``cough-export`` is asked to do, and its defaults (no torch import: the CLI starts fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_OPSET: Final = 18
"""Verified with torchaudio's MelSpectrogram under the dynamo exporter."""
MIN_OPSET: Final = 18
"""Lowest opset the dynamo exporter implements (it silently bumps lower requests)."""
MAX_AUC_DROP: Final = 0.005
"""Largest validation AUC loss accepted from int8 quantisation by default."""
DEFAULT_PARITY_CLIPS: Final = 32
DEFAULT_EVAL_CLIPS: Final = 1000


@dataclass(frozen=True)
class ExportSettings:
    """What ``cough-export`` was asked to do (validated by :func:`run_export`)."""

    run: Path
    """Run directory holding ``model.pt``, or the checkpoint file itself."""
    out: Path
    """ONNX file to write (replaced if it exists)."""
    opset: int = DEFAULT_OPSET
    """ONNX opset of the exported graph."""
    quantize: str | None = None
    """None for float32, or 'int8' (static QDQ, front end kept float)."""
    force: bool = False
    """Write the int8 file even when its AUC drops by more than ``max_auc_drop``."""
    max_auc_drop: float = MAX_AUC_DROP
    """Largest validation AUC loss accepted from int8 quantisation."""
    card: bool = True
    """Write the model card ``OUT.md`` beside the file."""
    parity_clips: int = DEFAULT_PARITY_CLIPS
    """Validation clips (when recorded and on disk) added to the parity probes."""
    eval_clips: int = DEFAULT_EVAL_CLIPS
    """Validation clips used for the int8 AUC comparison."""
    name: str | None = None
    """Model name to write; None: the name recorded at training, else the run folder's name."""
