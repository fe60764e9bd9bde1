"""One export, start to finish: checkpoint -> ONNX -> checks -> (int8) -> file + card.

Work happens in a temporary directory; the output file appears (atomically)
only once every check has passed, so a failed export never leaves a file
that looks good.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from export.card import write_card
from export.clips import load_validation
from export.errors import ExportError
from export.metadata import export_metadata
from export.onnx_export import export_onnx
from export.parity import ParityReport, check_parity
from export.preflight import check_opset, check_writable, checkpoint_path
from export.probes import Window, parity_probes, synthetic_labelled
from export.quantize import QuantReport, compare, enforce, quantize_int8
from export.runs import load_checkpoint
from export.settings import ExportSettings
from monitor.errors import ModelFileError
from monitor.scoring.modelfile import LoadedModel, load_model
from train.models import Checkpoint

log = logging.getLogger(__name__)

SYNTHETIC_EVAL_EACH: Final = 100
"""Synthetic coughs (and as many negatives) for the int8 AUC when no clips are available."""
SYNTHETIC_CALIBRATION_EACH: Final = 32
CALIBRATION_CLIPS: Final = 128
EVAL_SEED: Final = 11


@dataclass(frozen=True)
class ExportResult:
    """What was written and measured."""

    model: LoadedModel
    parity: ParityReport
    quant: QuantReport | None
    card: Path | None
    export_s: float
    """Seconds spent in torch.onnx.export."""
    notes: list[str] = field(default_factory=list)


def run_export(settings: ExportSettings) -> ExportResult:
    """Export, check and write; raise :class:`ExportError` (one line) on any failure."""
    check_opset(settings.opset)
    run_dir = checkpoint_path(settings.run).parent
    check_writable(settings.out)
    checkpoint = load_checkpoint(settings.run)
    with tempfile.TemporaryDirectory(prefix="cough-export-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        start = time.perf_counter()
        export_onnx(checkpoint, fp32, settings.opset, export_metadata(checkpoint, settings.opset),
                    name=settings.name or checkpoint.extra.get("model_name") or run_dir.resolve().name)
        export_s = time.perf_counter() - start
        n_clips = max(settings.parity_clips, settings.eval_clips if settings.quantize else 0)
        clips = load_validation(checkpoint, run_dir, n_clips)
        parity = check_parity(checkpoint, fp32, _parity_groups(checkpoint, clips[: settings.parity_clips]))
        final, quant = fp32, None
        if settings.quantize == "int8":
            final = Path(tmp) / "model.int8.onnx"
            quant = _quantize(checkpoint, fp32, final, clips, settings)
        _validate(final)
        _install(final, settings.out)
    model = load_model(settings.out)
    card = write_card(model, checkpoint.extra, parity, quant) if settings.card else None
    notes = [] if clips else ["no validation clips recorded or on disk: probes/synthetic only"]
    return ExportResult(model, parity, quant, card, export_s, notes)


def _parity_groups(checkpoint: Checkpoint, clips: list[Window]) -> dict[str, list[Window]]:
    spec = checkpoint.config.spec
    return {"probes": parity_probes(spec.sample_rate, spec.window_samples), "validation clips": clips}


def _quantize(checkpoint: Checkpoint, fp32: Path, int8: Path, clips: list[Window],
              settings: ExportSettings) -> QuantReport:
    spec = checkpoint.config.spec
    labelled = [c for c in clips if c.positive is not None]
    has_both = {c.positive for c in labelled} == {True, False}
    calibration = labelled[:CALIBRATION_CLIPS] + synthetic_labelled(
        spec.sample_rate, spec.window_samples, SYNTHETIC_CALIBRATION_EACH)
    quantize_int8(fp32, int8, calibration)
    if has_both:
        windows, source = labelled, "validation clips"
    else:
        windows = synthetic_labelled(spec.sample_rate, spec.window_samples, SYNTHETIC_EVAL_EACH, EVAL_SEED)
        source = "synthetic windows (no validation clips available)"
    columns = [checkpoint.labels.index(name) for name in checkpoint.event_labels]
    report = compare(fp32, int8, windows, source, columns)
    for line in report.lines():
        log.info("%s", line)
    enforce(report, settings.max_auc_drop, settings.force)
    return report


def _validate(path: Path) -> None:
    """The file must pass the monitor's own loader, exactly as it will be used."""
    try:
        load_model(path)
    except ModelFileError as exc:
        raise ExportError(f"exported file fails the monitor's loader: {exc}") from None


def _install(src: Path, out: Path) -> None:
    partial = out.with_name(f".{out.name}.partial")
    try:
        shutil.copyfile(src, partial)
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f"{out}: cannot write ({exc.strerror or exc})") from None
