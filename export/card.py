"""The model card written beside an exported file: ``model.onnx`` -> ``model.onnx.md``.

Everything on it comes from the file's own metadata (so card and file agree),
the checks just run, and the checkpoint's provenance: ``data_counts`` and
``data_attribution`` (licence/attribution of the training data: a list of
strings, a list of mappings or a mapping) when the run recorded them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import onnxruntime as ort

from export.metadata import NOT_RECORDED
from export.parity import ParityReport
from export.quantize import QuantReport
from monitor.scoring.modelfile import LoadedModel

CARD_SUFFIX: Final = ".md"


def card_path(model_path: Path) -> Path:
    """``model.onnx`` -> ``model.onnx.md``."""
    return model_path.with_name(model_path.name + CARD_SUFFIX)


def write_card(model: LoadedModel, extra: Mapping[str, Any], parity: ParityReport,
               quant: QuantReport | None) -> Path:
    """Write the card for ``model`` beside it; return its path."""
    path = card_path(model.path)
    path.write_text(render_card(model, extra, parity, quant), encoding="utf-8")
    return path


def render_card(model: LoadedModel, extra: Mapping[str, Any], parity: ParityReport,
                quant: QuantReport | None) -> str:
    """The card as markdown."""
    info, meta = model.info, model.info.extra
    sections = [
        f"# Model card: {info.name}\n",
        _bullets({
            "File": f"`{model.path.name}`, {model.path.stat().st_size / 1024:.0f} KiB, sha256 `{model.sha256}`",
            "Created (UTC)": meta.get("created_utc", NOT_RECORDED),
            "Format version": info.format_version,
            "Task": info.task,
            "Labels (output columns)": ", ".join(info.labels),
            "Event labels": ", ".join(info.event_labels),
            "Default threshold (from validation)": f"{info.threshold:.4f}",
            "Preset": info.preset,
            "Network": meta.get("model_config", NOT_RECORDED),
            "Quantization": meta.get("quantization", "none (float32)"),
        }),
        "## Input features (inside the graph)\n",
        _table(["field", "value"], [[k, v] for k, v in asdict(info.spec).items()]),
        "## Training data\n",
        _bullets({
            "Manifest sha256": meta.get("manifest_sha256", NOT_RECORDED),
            "Clip counts": _json_or(meta.get("data_counts")),
            "Data sha256 (clip list)": meta.get("data_sha256", NOT_RECORDED),
            "Command": f"`{meta['command']}`" if "command" in meta else NOT_RECORDED,
            "Seed": meta.get("seed", NOT_RECORDED),
            "Recipe": meta.get("recipe", NOT_RECORDED),
        }),
        "### Licence and attribution of the training data\n",
        _attribution(extra.get("data_attribution")),
        "## Validation metrics\n",
        _metrics(meta.get("metrics")),
        "## Export checks\n",
        _items(parity.lines()),
    ]
    if quant is not None:
        sections += ["## int8 quantization\n", _items(quant.lines())]
    sections += [
        "## Versions\n",
        _bullets({
            "torch (training)": meta.get("torch_version", NOT_RECORDED),
            "torchaudio (training)": meta.get("torchaudio_version", NOT_RECORDED),
            "exporter": meta.get("exporter", NOT_RECORDED),
            "ONNX opset": meta.get("opset", NOT_RECORDED),
            "onnxruntime (parity check)": ort.__version__,
        }),
        "## Use\n",
        f"`cough-monitor replay FILE.wav --model {model.path.name}` or `listen` with "
        f"`model = \"{model.path.name}\"`. Input: mono float32 windows of "
        f"{info.spec.window_samples} samples at {info.spec.sample_rate} Hz; the monitor "
        "resamples and frames the audio itself.\n",
    ]
    return "\n".join(sections)


def _bullets(items: Mapping[str, Any]) -> str:
    return "\n".join(f"- **{k}**: {v}" for k, v in items.items()) + "\n"


def _items(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines) + "\n"


def _table(header: list[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _json_or(value: Any) -> str:
    if value is None or value in ("", "{}"):
        return NOT_RECORDED
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _metrics(text: str | None) -> str:
    try:
        metrics = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return f"{text}\n"
    if not metrics:
        return f"{NOT_RECORDED}\n"
    rows = [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in sorted(metrics.items())]
    return _table(["metric", "value"], rows)


def _attribution(value: Any) -> str:
    if not value:
        return f"{NOT_RECORDED}: check the licences of the training data before sharing this model.\n"
    if isinstance(value, Mapping):
        return _bullets({str(k): _cell(v) for k, v in value.items()})
    if isinstance(value, Sequence) and not isinstance(value, str):
        if all(isinstance(v, Mapping) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            return _table(keys, [[v.get(k, "") for k in keys] for v in value])
        return _items([_cell(v) for v in value])
    return f"{value}\n"
