"""Errors ``cough-export`` reports as one line (all are :class:`CoughwatchError`)."""

from __future__ import annotations

from monitor.errors import CoughwatchError


class ExportError(CoughwatchError):
    """The run cannot be exported: missing run dir, not a checkpoint, unwritable output, ..."""


class ParityError(ExportError):
    """The ONNX file does not score like the torch model (message holds the numbers)."""


class QuantizeRefused(ExportError):
    """int8 quantisation lost too much validation AUC (message holds the numbers)."""
