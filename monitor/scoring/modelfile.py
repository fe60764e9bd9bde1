"""The coughwatch ONNX model-file contract: metadata keys, reading and validation.

This module is the single definition of what a coughwatch model file holds.
``export`` writes the metadata with :func:`ModelInfo.to_metadata_props`; the
monitor reads it with :func:`load_model_info`. It imports only numpy-free
standard library and ``onnxruntime`` so it runs on the edge device.

Graph contract:

* input ``waveform``: float32 ``[batch, window_samples]``, mono, at
  ``spec.sample_rate`` Hz, full-scale range [-1, 1]; ``batch`` is dynamic.
* output ``scores``: float32 ``[batch, len(labels)]``, probabilities
  (sigmoid for ``binary``/``regression``, softmax for ``multiclass``).
* optional runs (``run_hop_samples`` > 0 in the metadata): the input may also be
  ``[batch, window_samples + k * run_hop_samples]``; the output is then
  ``[batch * (k + 1), len(labels)]``, one row per window, windows ``run_hop_samples``
  apart (row-major). The graph computes each log-mel frame once for the whole run.
* optional state (``state_size`` > 0 in the metadata, context models): a second input
  ``state`` float32 ``[batch, state_size]`` and a second output ``state_out`` of the same
  shape. A stream's first run gets zeros; each later run gets the previous run's
  ``state_out`` and must start at the window after the previous run's last one (windows
  ``run_hop_samples`` apart, in order). Scores then depend on the stream so far, not on how
  it was cut into runs.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from monitor.errors import ModelFileError
from monitor.scoring.metadata_check import checked_detector_defaults, checked_feature_spec

FORMAT_VERSION: Final = 1
"""Bumped whenever the meaning of a metadata key or of the graph I/O changes."""

KEY_PREFIX: Final = "coughwatch."
INPUT_NAME: Final = "waveform"
OUTPUT_NAME: Final = "scores"
STATE_INPUT_NAME: Final = "state"
STATE_OUTPUT_NAME: Final = "state_out"
TASKS: Final = ("binary", "regression", "multiclass")

DETECTOR_KEYS: Final = (
    "threshold_off", "onset_k", "onset_n", "min_duration_s", "merge_gap_s", "refractory_s",
)
"""Detector settings a model file may carry as defaults (see ``monitor.scoring.detector``)."""

DEFAULT_HOP_FRACTION: Final = 0.25
"""Default hop between scored windows, as a fraction of the window (see
:attr:`ModelInfo.default_hop_samples`)."""

_REQUIRED_KEYS: Final = ("format_version", "feature_spec", "task", "labels", "threshold")


@dataclass(frozen=True)
class FeatureSpecInfo:
    """The fixed-length log-mel front end baked into the graph (read-only here).

    Mirrors ``train.features.FeatureSpec``; the monitor only needs
    ``sample_rate`` and ``window_samples``, the rest is shown by ``info``.
    """

    sample_rate: int
    """Model input rate in Hz."""
    window_samples: int
    """Samples per scored window at ``sample_rate``."""
    n_fft: int
    hop_length: int
    n_mels: int
    f_min: float
    f_max: float
    log_offset: float
    log: bool = True
    """False only for the tutorial-exact seed preset (raw mel power)."""
    normalize: str = "none"
    """'none' or 'window_mean' (log-mel minus its mean over the window, in-graph)."""
    center: bool = True
    """STFT framing: True = frames centred on multiples of ``hop_length`` with
    reflect padding at the window's edges; False = frames start at 0, no padding."""

    @property
    def window_s(self) -> float:
        """Window length in seconds."""
        return self.window_samples / self.sample_rate


@dataclass(frozen=True)
class ModelInfo:
    """Everything a coughwatch ONNX file says about itself.

    ``labels`` names the output columns in order. ``event_labels`` are the
    columns that produce cough events (for ``binary`` and ``regression`` the
    single column; for ``multiclass`` every class except the negatives).
    """

    spec: FeatureSpecInfo
    task: str
    labels: tuple[str, ...]
    threshold: float
    """Default decision threshold for ``event_labels`` chosen on validation."""
    event_labels: tuple[str, ...]
    name: str = "coughwatch"
    preset: str = ""
    run_hop_samples: int = 0
    """> 0 when the graph also scores runs of windows this many samples apart (see
    the module docstring); 0: one window per input row only."""
    state_size: int = 0
    """> 0 for a context model: floats of state carried from run to run (see the module
    docstring); such a model is scored at ``run_hop_samples`` only."""
    format_version: int = FORMAT_VERSION
    extra: dict[str, str] = field(default_factory=dict)
    """Free-form metadata (metrics, data hash, versions, recipe, created_utc)."""

    @property
    def default_hop_samples(self) -> int:
        """The hop the monitor scores at unless told otherwise: the model's run hop
        when it has one (replay can then share frames), else a quarter window."""
        return self.run_hop_samples or max(1, round(self.spec.window_samples * DEFAULT_HOP_FRACTION))

    @property
    def detector_defaults(self) -> dict[str, float]:
        """Detector settings chosen for this model on validation streams (may be empty).

        Stored as JSON in the ``detector`` extra key; only the keys in
        :data:`DETECTOR_KEYS` are honoured. Command-line flags and config override them.
        """
        return checked_detector_defaults(self.extra.get("detector"), DETECTOR_KEYS, self.name)

    def to_metadata_props(self) -> dict[str, str]:
        """Return the ``metadata_props`` mapping (all values strings) to embed."""
        props = {
            "format_version": str(self.format_version),
            "feature_spec": json.dumps(asdict(self.spec), sort_keys=True),
            "task": self.task,
            "labels": json.dumps(list(self.labels)),
            "event_labels": json.dumps(list(self.event_labels)),
            "threshold": repr(float(self.threshold)),
            "name": self.name,
            "preset": self.preset,
        }
        if self.run_hop_samples:
            props["run_hop_samples"] = str(self.run_hop_samples)
        if self.state_size:
            props["state_size"] = str(self.state_size)
        props.update(self.extra)
        return {KEY_PREFIX + k: v for k, v in props.items()}

    @classmethod
    def from_metadata_props(cls, props: dict[str, str], source: str = "model") -> ModelInfo:
        """Parse and validate metadata; raise :class:`ModelFileError` naming the problem."""
        ours = {k[len(KEY_PREFIX):]: v for k, v in props.items() if k.startswith(KEY_PREFIX)}
        if not ours:
            raise ModelFileError(f"{source}: not a coughwatch model (no '{KEY_PREFIX}*' metadata)")
        missing = [k for k in _REQUIRED_KEYS if k not in ours]
        if missing:
            raise ModelFileError(f"{source}: metadata lacks {', '.join(missing)}")
        try:
            version = int(ours["format_version"])
            spec = FeatureSpecInfo(**checked_feature_spec(ours["feature_spec"], source))
            labels = tuple(str(x) for x in json.loads(ours["labels"]))
            event_labels = tuple(
                str(x) for x in json.loads(ours.get("event_labels", json.dumps(labels)))
            )
            threshold = float(ours["threshold"])
            run_hop = int(ours.get("run_hop_samples", "0"))
            state_size = int(ours.get("state_size", "0"))
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelFileError(f"{source}: unreadable metadata ({exc})") from None
        if version != FORMAT_VERSION:
            raise ModelFileError(
                f"{source}: model format version {version}, this coughwatch reads {FORMAT_VERSION}"
            )
        task = ours["task"]
        _check(task in TASKS, source, f"unknown task {task!r}")
        _check(spec.sample_rate > 0 and spec.window_samples > 0, source, "bad feature spec")
        _check(len(labels) > 0, source, "no labels")
        _check(set(event_labels) <= set(labels), source, "event_labels not among labels")
        _check(math.isfinite(threshold) and 0.0 <= threshold <= 1.0, source, "threshold not in [0, 1]")
        _check(0 <= run_hop <= spec.window_samples, source, f"run_hop_samples {run_hop} not in [0, window]")
        _check(state_size >= 0 and (state_size == 0 or run_hop > 0), source,
               f"state_size {state_size} needs run_hop_samples > 0")
        known = set(_REQUIRED_KEYS) | {"event_labels", "name", "preset", "run_hop_samples", "state_size"}
        extra = {k: v for k, v in ours.items() if k not in known}
        checked_detector_defaults(extra.get("detector"), DETECTOR_KEYS, source)  # fail now, not later
        return cls(
            spec=spec,
            task=task,
            labels=labels,
            threshold=threshold,
            event_labels=event_labels,
            name=ours.get("name", "coughwatch"),
            preset=ours.get("preset", ""),
            run_hop_samples=run_hop,
            state_size=state_size,
            format_version=version,
            extra=extra,
        )


def _check(ok: bool, source: str, what: str) -> None:
    if not ok:
        raise ModelFileError(f"{source}: {what}")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_model_path() -> Path:
    """Path of the model bundled with the package (may not exist in a dev tree)."""
    return Path(__file__).resolve().parents[1] / "models" / "default.onnx"  # monitor/models/


def json_extra(value: Any) -> str:
    """Encode a value for :attr:`ModelInfo.extra` (JSON, stable key order)."""
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class LoadedModel:
    """An onnxruntime session plus the validated metadata of its file."""

    session: Any  # onnxruntime.InferenceSession; typed loosely to keep import lazy
    info: ModelInfo
    path: Path
    sha256: str

    @property
    def model_id(self) -> str:
        """``name@sha256-prefix``, as events report it."""
        return f"{self.info.name}@{self.sha256[:12]}"


def load_model(path: Path | str | None = None, threads: int = 1) -> LoadedModel:
    """Open a coughwatch ONNX file and validate its metadata and I/O signature.

    ``path=None`` means the bundled default model. ``threads`` sets
    onnxruntime's intra-op thread count (1 is best for the live path).
    Raises :class:`ModelFileError` with one line naming the problem.
    """
    import onnxruntime as ort  # local: keeps `import monitor.scoring.modelfile` cheap

    model_path = Path(path) if path is not None else default_model_path()
    if not model_path.is_file():
        if path is None:
            raise ModelFileError(
                f"no bundled default model at {model_path}; pass --model FILE.onnx "
                "(train one with cough-train and cough-export)"
            )
        raise ModelFileError(f"{model_path}: model file not found")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises several unrelated types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{model_path}: not a loadable ONNX model ({first[:200]})") from None
    props = dict(session.get_modelmeta().custom_metadata_map)
    info = ModelInfo.from_metadata_props(props, source=str(model_path))
    _check_signature(session, info, str(model_path))
    return LoadedModel(session=session, info=info, path=model_path, sha256=file_sha256(model_path))


def _check_signature(session: Any, info: ModelInfo, source: str) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    expected = [INPUT_NAME, STATE_INPUT_NAME] if info.state_size else [INPUT_NAME]
    if [i.name for i in inputs] != expected:
        names = [i.name for i in inputs]
        wanted = "inputs 'waveform' and 'state'" if info.state_size else f"one input '{INPUT_NAME}'"
        raise ModelFileError(f"{source}: expected {wanted}, found {names}")
    if info.state_size:
        _check_state(inputs[1], outputs, info.state_size, source)
    shape = inputs[0].shape
    if inputs[0].type != "tensor(float)" or len(shape) != 2:
        raise ModelFileError(
            f"{source}: input '{INPUT_NAME}' must be float32 [batch, window_samples], "
            f"found {inputs[0].type} {shape}"
        )
    if isinstance(shape[1], int) and shape[1] != info.spec.window_samples:
        raise ModelFileError(
            f"{source}: input has {shape[1]} samples per window, metadata says "
            f"{info.spec.window_samples}"
        )
    if info.run_hop_samples and isinstance(shape[1], int):
        raise ModelFileError(
            f"{source}: metadata declares runs (run_hop_samples {info.run_hop_samples}) but its "
            f"input takes exactly {shape[1]} samples"
        )
    out_names = [o.name for o in outputs]
    if OUTPUT_NAME not in out_names:
        raise ModelFileError(f"{source}: expected an output '{OUTPUT_NAME}', found {out_names}")
    out_shape = next(o.shape for o in outputs if o.name == OUTPUT_NAME)
    n_out = out_shape[-1] if out_shape else None
    if isinstance(n_out, int) and n_out != len(info.labels):
        raise ModelFileError(
            f"{source}: '{OUTPUT_NAME}' has {n_out} columns but {len(info.labels)} labels"
        )


def _check_state(state_input: Any, outputs: Any, state_size: int, source: str) -> None:
    """A context model's ``state`` input and ``state_out`` output are float32 ``[batch, state_size]``."""
    out = next((o for o in outputs if o.name == STATE_OUTPUT_NAME), None)
    for value, name in ((state_input, STATE_INPUT_NAME), (out, STATE_OUTPUT_NAME)):
        if value is None:
            raise ModelFileError(f"{source}: metadata declares state but the graph has no '{name}'")
        shape = value.shape
        if value.type != "tensor(float)" or len(shape) != 2 or (
                isinstance(shape[1], int) and shape[1] != state_size):
            raise ModelFileError(f"{source}: '{name}' must be float32 [batch, {state_size}], "
                                 f"found {value.type} {shape}")
