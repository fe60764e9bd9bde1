"""Write a checkpoint as ONE ONNX file: LogMel front end + network + activation.

Graph I/O and metadata keys follow :mod:`monitor.scoring.modelfile`. Inside the graph
the front end's output (log-mel ``[batch, 1, n_mels, n_frames]``) is the value
named :data:`LOG_MEL_NAME`, so parity checks and quantisation can find it; the
exporter's per-node debug metadata (stack traces holding machine paths) is
dropped.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any, Final

import onnx
import torch

from export.context_runs import ContextRunModel
from export.errors import ExportError
from export.frontend import MatmulLogMel
from export.preflight import check_opset
from export.settings import DEFAULT_OPSET
from export.window_runs import WindowRunModel, run_hop_samples
from monitor.scoring.modelfile import (
    INPUT_NAME,
    OUTPUT_NAME,
    STATE_INPUT_NAME,
    STATE_OUTPUT_NAME,
    ModelInfo,
)
from train.models import Checkpoint, ScoringModel

log = logging.getLogger(__name__)

LOG_MEL_NAME: Final = "log_mel"
"""Name of the front end's output value inside the exported graph."""
FRONTEND_SCOPE: Final = "net.frontend"
"""Module path of ``LogMel`` inside ``ScoringModel`` (as the exporter records it)."""
_SCOPE_KEY: Final = "pkg.torch.onnx.name_scopes"
MAX_BATCH: Final = 4096


def model_info(checkpoint: Checkpoint, extra: Mapping[str, str] | None = None,
               name: str | None = None) -> ModelInfo:
    """The :class:`ModelInfo` (metadata) describing ``checkpoint``.

    Its name: ``name``, else the one recorded at training (``cough-train --name``, by
    default the run folder's name), else ``coughwatch-<preset>``.
    """
    config = checkpoint.config
    return ModelInfo(
        spec=config.spec.to_info(),
        task=config.task,
        labels=tuple(checkpoint.labels),
        threshold=float(checkpoint.threshold),
        event_labels=tuple(checkpoint.event_labels),
        name=name or str(checkpoint.extra.get("model_name") or f"coughwatch-{config.preset}"),
        preset=config.preset,
        run_hop_samples=run_hop_samples(config),
        state_size=state_size(checkpoint),
        extra=dict(extra or {}),
    )


def state_size(checkpoint: Checkpoint) -> int:
    """Floats of state a context model carries from run to run; 0 for the others."""
    return checkpoint.build().body.context.state_size if checkpoint.config.architecture == "stream_ctx" else 0


def export_onnx(
    checkpoint: Checkpoint,
    out_path: Path,
    opset: int = DEFAULT_OPSET,
    extra_metadata: Mapping[str, str] | None = None,
    name: str | None = None,
) -> ModelInfo:
    """Export ``checkpoint`` to ``out_path``; return the metadata written.

    Input ``waveform`` float32 ``[batch, window_samples]`` (dynamic batch),
    output ``scores`` float32 ``[batch, n_outputs]`` probabilities. Raises
    :class:`ExportError` when the exporter or ``onnx.checker`` rejects it.
    """
    proto = _trace(checkpoint, opset)
    _name_frontend_output(proto)
    _strip_debug_metadata(proto)
    info = model_info(checkpoint, extra_metadata, name)
    onnx.helper.set_model_props(proto, info.to_metadata_props())
    proto.producer_name = "coughwatch"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejects the export: {_first_line(exc)}") from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(out_path))
    return info


def _trace(checkpoint: Checkpoint, opset: int) -> onnx.ModelProto:
    check_opset(opset)
    scoring = ScoringModel(checkpoint.build()).eval()
    scoring.net.frontend = MatmulLogMel(scoring.net.frontend)
    spec = checkpoint.config.spec
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    shapes: dict[int, Any] = {0: batch}
    model: torch.nn.Module = scoring
    example: tuple[torch.Tensor, ...] = (torch.zeros(2, spec.window_samples),)
    dynamic: tuple[dict[int, Any], ...] = (shapes,)
    names = ([INPUT_NAME], [OUTPUT_NAME])
    if run_hop := run_hop_samples(checkpoint.config):  # [batch, window + k * run_hop] -> [batch * (k + 1), n]
        model = WindowRunModel(scoring).eval()
        extra_hops = torch.export.Dim("extra_hops", min=0, max=MAX_BATCH)
        shapes[1] = spec.window_samples + run_hop * extra_hops
        example = (torch.zeros(2, spec.window_samples + 3 * run_hop),)
    if checkpoint.config.architecture == "stream_ctx":  # + state [batch, state_size] in and out
        model = ContextRunModel(scoring).eval()
        example = (*example, torch.zeros(2, model.state_size))
        dynamic = (shapes, {0: batch})
        names = ([INPUT_NAME, STATE_INPUT_NAME], [OUTPUT_NAME, STATE_OUTPUT_NAME])
    try:
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()), _quiet("torch.onnx"):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                example,
                dynamo=True,
                opset_version=opset,
                input_names=names[0],
                output_names=names[1],
                dynamic_shapes=dynamic,
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many unrelated types
        raise ExportError(f"torch.onnx.export failed at opset {opset}: {_first_line(exc)}") from None
    proto = program.model_proto
    got = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if got != opset:
        raise ExportError(f"opset {opset} requested but the exporter produced opset {got}")
    del proto.metadata_props[:]
    return proto


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a chatty library logger (the exporter warns about absent torchvision)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _in_frontend(node: onnx.NodeProto) -> bool:
    scopes = next((p.value for p in node.metadata_props if p.key == _SCOPE_KEY), "")
    return f"'{FRONTEND_SCOPE}'" in scopes


def _name_frontend_output(proto: onnx.ModelProto) -> None:
    """Rename the one value flowing from the front end into the body to :data:`LOG_MEL_NAME`."""
    nodes = proto.graph.node
    produced = {out for node in nodes if _in_frontend(node) for out in node.output}
    consumed = {inp for node in nodes if not _in_frontend(node) for inp in node.input}
    floats = {v.name for v in proto.graph.value_info if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    crossing = produced & consumed & floats  # (a run graph also passes int64 shape values)
    if len(crossing) != 1:
        raise ExportError(
            f"cannot locate the log-mel output in the exported graph ({len(crossing)} candidates: {sorted(crossing)})"
        )
    old = crossing.pop()
    for node in nodes:
        node.input[:] = [LOG_MEL_NAME if name == old else name for name in node.input]
        node.output[:] = [LOG_MEL_NAME if name == old else name for name in node.output]
    for value in proto.graph.value_info:
        if value.name == old:
            value.name = LOG_MEL_NAME


def _strip_debug_metadata(proto: onnx.ModelProto) -> None:
    for node in proto.graph.node:
        del node.metadata_props[:]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
