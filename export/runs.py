"""Find and read the checkpoint of a training run (``runs/NAME/model.pt``)."""

from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path

import torch
from torch.torch_version import TorchVersion

from export.errors import ExportError
from export.preflight import checkpoint_path
from train.models import Checkpoint

log = logging.getLogger(__name__)

def load_checkpoint(run: Path) -> Checkpoint:
    """Read the checkpoint of ``run`` (a run directory or a ``model.pt``) onto the CPU.

    Only tensors and plain Python are unpickled (``weights_only=True``); any
    other file gives one :class:`ExportError` line naming it.
    """
    path = checkpoint_path(run)
    try:
        # runs written before versions were stored as str hold torch's TorchVersion (a str)
        with torch.serialization.safe_globals([TorchVersion]):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise ExportError(f"{path}: not a coughwatch checkpoint (it holds objects other than "
                              "tensors and plain Python; refusing to unpickle them)") from None
        raise ExportError(f"{path}: not a coughwatch checkpoint ({_first(exc)})") from None
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError, AttributeError,
            TypeError) as exc:
        raise ExportError(f"{path}: not a coughwatch checkpoint ({_first(exc)})") from None
    if not isinstance(data, dict):
        raise ExportError(f"{path}: not a coughwatch checkpoint (holds a {type(data).__name__})")
    try:
        checkpoint = Checkpoint.from_dict(data)
        checkpoint.build()  # the weights must fit the config
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ExportError(f"{path}: not a usable coughwatch checkpoint ({_first(exc)})") from None
    log.info("checkpoint %s: preset %s, task %s, labels %s", path, checkpoint.config.preset,
             checkpoint.config.task, checkpoint.labels)
    return checkpoint


def _first(exc: BaseException) -> str:
    """The exception's message on one line, shortened."""
    return " ".join(str(exc).split())[:160] or type(exc).__name__
