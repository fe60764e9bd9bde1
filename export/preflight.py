"""Checks that need no torch, run before the heavy imports: fail fast on a bad command line."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Final

from export.errors import ExportError
from export.settings import MIN_OPSET

CHECKPOINT_NAME: Final = "model.pt"
"""File name ``cough-train`` gives the checkpoint inside a run directory."""


def checkpoint_path(run: Path) -> Path:
    """``run`` itself when it is a file, else ``run/model.pt``; raise :class:`ExportError` if absent."""
    if run.is_file():
        return run
    if run.is_dir():
        path = run / CHECKPOINT_NAME
        if path.is_file():
            return path
        raise ExportError(f"{run}: no {CHECKPOINT_NAME} in this run directory (did training finish?)")
    raise ExportError(f"{run}: no such run directory or checkpoint file")


def check_writable(out: Path) -> None:
    """Raise :class:`ExportError` unless a file can be created at ``out`` (parents are made)."""
    if out.is_dir():
        raise ExportError(f"{out}: is a directory; give a file name such as {out / 'model.onnx'}")
    if out.parent.exists() and not out.parent.is_dir():
        raise ExportError(f"{out}: {out.parent} is not a directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", delete=True):
            pass
    except OSError as exc:
        raise ExportError(f"{out}: cannot write here ({exc.strerror or exc})") from None


def check_opset(opset: int) -> None:
    """Raise :class:`ExportError` unless ``MIN_OPSET <= opset <=`` the installed onnx's newest."""
    import onnx  # local: keeps the fast-fail path light

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ExportError(f"opset {opset} not supported: choose {MIN_OPSET}..{newest}")
