"""``ReaderOptions``: how a ``Reader`` is built, defined once for the library (``Reader``, ``read_page``,
``read_document``), ``htr batch`` and its workers (local or on a Dask cluster), and the command line's options
(``htr.cli.options``). Frozen and picklable: it travels to worker processes as it is."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from htr.paths import DEFAULT_LM
from htr.recognition.decode import DEFAULT_BEAM
from htr.runtime import DEFAULT_PRECISION, DEFAULT_RUNTIME


@dataclass(frozen=True)
class ReaderOptions:
    """The models and how they read: every field has the shipped default."""
    det_weights: str | Path | None = None  # the detector's weights (None: the shipped htr/weights/det.pt)
    rec_weights: str | Path | None = None  # the recogniser's (None: htr/weights/rec.pt)
    beam: int = DEFAULT_BEAM  # CTC beam width; 0: greedy decoding, no language model
    lm: str | Path | None = DEFAULT_LM  # character language model of the beam search; None: none
    lang: tuple[str, ...] | str | None = None  # languages whose word lists the beam favours; None or "auto": each
    # page's own, chosen from a first reading of it (``Recognizer.recognize_page``); (): none
    orient: bool = True  # look for pages turned by 90, 180 or 270 degrees (``htr.orientation``)
    batch_size: int = 16  # text lines recognised per forward pass
    threads: int | None = None  # torch CPU threads (None: torch's choice)
    runtime: str = DEFAULT_RUNTIME  # what runs the models: "torch" or "onnx" (``htr.runtime``)
    precision: str | None = DEFAULT_PRECISION  # both models': "fp32", "bf16" or "auto" (``htr.runtime``)
