"""Benchmark ``export``: parity, sizes and int8 figures of ``cough-export`` (its Python API).

``default``: a tiny run trained here (``train.loop.train``, 2 epochs on
generated clips) so the run records validation clips and the int8 AUC is
judged on them. ``seed``: a random-weight checkpoint (speed and size do not
depend on the weights; its int8 AUC is measured on synthetic windows).
Each is exported as float32 and as int8 (``--quantize int8 --force``, so the
figures are reported even when the AUC guard would refuse the file).
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any, Final

from bench.context import Context
from bench.report import BenchResult

log = logging.getLogger(__name__)

NAME: Final = "export"
SCORE_TARGET: Final = 1e-4
TINY_CLIPS: Final = 120
TINY_EPOCHS: Final = 2


def run(ctx: Context) -> BenchResult:
    """Export each run as fp32 and int8; report parity, sizes, speed and AUC change."""
    import torch

    result = BenchResult(NAME)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # see the training benchmark: the second core is shared
    try:
        runs = {"default": _tiny_trained_run(ctx)}
        if not ctx.quick:
            runs["seed"] = _random_run(ctx, "seed")
        for key, (run_dir, label) in runs.items():
            result.details[key] = _export_both(ctx, result, run_dir, label)
    finally:
        torch.set_num_threads(previous)
    return result


def _tiny_trained_run(ctx: Context) -> tuple[Path, str]:
    from train.data import load_manifest
    from train.loop import train
    from train.settings import TrainSettings
    from train.synth import write_dataset

    manifest = write_dataset(ctx.scratch("export-data"), TINY_CLIPS, seed=3)
    settings = TrainSettings(out_dir=ctx.work_dir / "export-run-default", preset="default",
                             epochs=TINY_EPOCHS, device="cpu", seed=3)
    with contextlib.redirect_stdout(io.StringIO()):  # the model summary
        out = train(settings, load_manifest(manifest))
    return out.run_dir, f"default (tiny run: {TINY_EPOCHS} epochs, {TINY_CLIPS} generated clips)"


def _random_run(ctx: Context, preset: str) -> tuple[Path, str]:
    import torch

    from bench.models import random_checkpoint

    run_dir = ctx.scratch(f"export-run-{preset}")
    torch.save(random_checkpoint(preset).to_dict(), run_dir / "model.pt")
    return run_dir, f"{preset} (random weights)"


def _export_both(ctx: Context, result: BenchResult, run_dir: Path, label: str) -> dict[str, Any]:
    from export.pipeline import ExportSettings, run_export

    out = ctx.scratch("export-out")
    fp32 = run_export(ExportSettings(run=run_dir, out=out / f"{run_dir.name}.onnx", card=False))
    int8 = run_export(ExportSettings(run=run_dir, out=out / f"{run_dir.name}.int8.onnx", card=False,
                                     quantize="int8", force=True))
    parity = fp32.parity
    windows = sum(g.n_windows for g in parity.groups)
    result.add(f"ONNX vs torch max |Δscore| ({windows} windows: probes + validation clips, batched "
               "and batch 1)", f"{parity.score_diff:.1e}", label, f"< {SCORE_TARGET:g}",
               parity.score_diff < SCORE_TARGET)
    result.add("ONNX vs torch max |Δlog-mel| within 40 dB of each window's peak",
               f"{parity.log_mel_diff:.1e}", label)
    q = int8.quant
    sizes = f"{q.fp32_bytes / 1024:.0f} KiB / {q.int8_bytes / 1024:.0f} KiB ({q.int8_bytes / q.fp32_bytes:.0%})"
    result.add("model file size fp32 / int8", sizes, label)
    result.add("int8 vs fp32 speed, windows/s (1 thread, batch 1)",
               f"{q.int8_windows_per_s:.0f} vs {q.fp32_windows_per_s:.0f}", label)
    result.add(f"int8 AUC vs fp32 on {q.n_eval} {q.eval_source}",
               f"{q.auc_int8:.3f} vs {q.auc_fp32:.3f} (drop {q.auc_drop:+.3f}); max |Δscore| "
               f"{q.max_score_diff:.3f}", label)
    result.add("torch.onnx.export time", f"{fp32.export_s:.1f} s", label)
    return {"parity": [vars(g) for g in parity.groups], "quant": vars(q), "export_s": fp32.export_s,
            "notes": fp32.notes + int8.notes}
