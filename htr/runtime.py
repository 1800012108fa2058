"""ONNX Runtime for the detector and the recogniser: the torch model exported once, run by onnxruntime.

``runtime_model(model, kind, "onnx", weights)`` gives a callable with the torch model's call where htr uses
it: the recogniser's ``model(x, widths)`` -> (B, T, classes) logits, the detector's ``model(x)`` ->
{"prob": maps}. The export of a weights file is cached as
``$HTR_CACHE/onnx/<sha256 of the file>-<kind>-v<N>.onnx`` (default ``~/.cache/htr/onnx``); a model without a
file is exported in memory.

The exporter is torch's TorchScript-based one (``dynamo=False``, deprecated since torch 2.9 but present up to
the 2.13 pyproject allows): it maps the BiLSTM to ONNX's LSTM op with batch and width dynamic. The dynamo
exporter fails on the LSTM with a dynamic width, and with widths declared as multiples of 32 it exports a
graph whose output declares a fixed frame count (onnxruntime warns on every other width).
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

from htr.errors import UsageError
from htr.files import atomic_path
from htr.paths import cache_root

# oneDNN's per-input-shape caches (compiled convolutions; ideep's kernels of the bfloat16 LSTM), read when torch
# first uses them: unbounded, they grew a page-reading process by ~2.5 MB a page on an Intel Xeon with AMX
# (docs/benchmarks.md, "Batch memory"); 16 shapes each cost about 5% of the CPU time
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")
os.environ.setdefault("LRU_CACHE_CAPACITY", "16")

RUNTIMES = ("torch", "onnx")
DEFAULT_RUNTIME = "torch"
# The models' arithmetic with the torch runtime: bfloat16 where the CPU computes it natively (AMX,
# AVX512-BF16), else float32 (MODEL_CARD.md: recogniser CER and detector F1 unchanged, 1.4-1.6 times faster).
PRECISIONS = ("auto", "fp32", "bf16")
DEFAULT_PRECISION = "auto"
OPSET = 17
EXPORT_VERSION = 1  # part of the cache name: raise it when the exported graph changes for the same weights
AXES = {"rec": ({0: "batch", 3: "width"}, {0: "batch", 1: "frames"}),
        "det": ({0: "batch", 2: "height", 3: "width"}, {0: "batch", 2: "map_height", 3: "map_width"})}


def native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AMX tiles or AVX512-BF16)."""
    import torch

    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # private helpers of torch 2.x
        return False


def use_bf16(precision: str, runtime: str = DEFAULT_RUNTIME) -> bool:
    """Whether a model runs its forward pass in bfloat16: ``precision`` "bf16", or "auto" on a CPU that has it
    natively; only with the torch runtime (ONNX Runtime runs float32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return runtime == "torch" and (precision == "bf16" or (precision == "auto" and native_bf16()))


def check_runtime(runtime: str) -> None:
    """ValueError for an unknown runtime; UsageError for "onnx" where onnxruntime is not installed."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime == "onnx":
        try:
            import onnx  # noqa: F401  (the exporter writes the graph with it)
            import onnxruntime  # noqa: F401
        except ImportError as err:
            raise UsageError(f"--runtime onnx needs onnxruntime and onnx ({err.name} is not installed): "
                             f"pip install -e . installs them, or use --runtime torch") from err


def cache_dir() -> Path:
    return cache_root() / "onnx"


def cache_path(weights: str | Path, kind: str) -> Path:
    """Where the export of the weights file ``weights`` of ``kind`` (det or rec) is cached."""
    digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    return cache_dir() / f"{digest}-{kind}-v{EXPORT_VERSION}.onnx"


def export(model, kind: str, f) -> None:
    """Export ``model`` of ``kind``, in eval mode, to ``f`` (a path or a binary file object)."""
    import torch

    class Prob(torch.nn.Module):  # the detector's probability maps as the graph's one output
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x)["prob"]

    # an example input (2 crops 128 px wide, a 256 x 256 page); the axes of AXES stay dynamic
    x = torch.zeros(2, 1, model.cfg.height, 128) if kind == "rec" else torch.zeros(1, 3, 256, 256)
    (x_axes, out_axes), name = AXES[kind], "logits" if kind == "rec" else "prob"
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():  # tracer and deprecation warnings, for the developer
            warnings.simplefilter("ignore")
            torch.onnx.export(model if kind == "rec" else Prob(), (x,), f, dynamo=False, opset_version=OPSET,
                              input_names=["x"], output_names=[name],
                              dynamic_axes={"x": x_axes, name: out_axes})
    finally:
        model.train(was_training)


def onnx_bytes_or_path(model, kind: str, weights: str | Path | None = None) -> bytes | str:
    """The exported graph: the cached file of ``weights`` (exported there first when missing), or in memory."""
    if weights is None:
        buf = io.BytesIO()
        export(model, kind, buf)
        return buf.getvalue()
    path = cache_path(weights, kind)
    if not path.is_file():
        with atomic_path(path) as tmp:
            export(model, kind, tmp)
    return str(path)


class OnnxModel:
    """An onnxruntime session called like the torch model: rec ``(x, widths=None)`` -> logits (widths are
    unused: the exported recogniser runs its LSTM over the padded batch), det ``(x)`` -> {"prob": maps}."""

    def __init__(self, model, kind: str, weights: str | Path | None = None, threads: int | None = None):
        import onnxruntime as ort
        import torch

        if kind == "rec" and model.cfg.packed:
            raise UsageError("--runtime onnx runs the recogniser over the padded batch; these weights were "
                             "trained over packed sequences (RecConfig.packed): use --runtime torch")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as OMP_WAIT_POLICY=PASSIVE
        options.log_severity_level = 3  # errors only
        self.kind = kind
        self.session = ort.InferenceSession(onnx_bytes_or_path(model, kind, weights), options,
                                            providers=["CPUExecutionProvider"])

    def __call__(self, x, widths=None):
        import torch

        out = torch.from_numpy(self.session.run(None, {"x": x.numpy()})[0])
        return out if self.kind == "rec" else {"prob": out}


def runtime_model(model, kind: str, runtime: str, weights: str | Path | None = None):
    """What runs ``model``'s forward pass: the model itself ("torch") or its ONNX export ("onnx", on as many
    threads as torch uses); ``weights``: the model's file, whose export is cached (None: export in memory)."""
    check_runtime(runtime)
    return model if runtime == "torch" else OnnxModel(model, kind, weights)
