"""Building the character language model: ``htr train lm`` (writes htr/weights/lm.json.gz).

Counts character n-grams of the train transcriptions of ../shared/data/{hooker,testaments}/train (never the
dev splits), and of ``--synthetic`` lines of the recogniser's synthetic text (names in capitals, dates,
addresses, numbers, other languages) so that the model does not penalise what letters and wills rarely hold.
``--tune`` first picks the beam search's LM weight and per-character bonus: the model is built without a tenth
of the train documents, those documents' lines are recognised once with ``--rec``, and every (weight, bonus)
pair of the grid is scored by CER on them; the chosen pair is stored with the model, which is then rebuilt
from all train documents.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

from htr.evaluate import score_text
from htr.formats import read_document
from htr.paths import DEFAULT_LM, WEIGHTS_DIR, shared_dir
from htr.recognition.codec import Codec
from htr.recognition.lm import CharLM
from htr.train.data import TRAIN_SETS


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    a = parser.add_argument
    a("--out", default=str(DEFAULT_LM), help="where to write the model (default: the shipped htr/weights/lm.json.gz)")
    a("--order", type=int, default=5, help="n-gram order in characters (default: 5)")
    a("--rec", default=str(WEIGHTS_DIR / "rec.pt"), help="recogniser weights: their charset, and the model --tune decodes with")
    a("--synthetic", type=int, default=5000, help="lines of synthetic text added to the counts (default: 5000)")
    a("--tune", action="store_true", help="choose the LM weight and bonus on held-out train documents first")
    a("--beam", type=int, default=10, help="beam width for --tune (default: 10)")
    a("--lm-weights", default="0.3,0.4,0.5", help="LM weights tried by --tune")
    a("--bonuses", default="1,1.5,2", help="per-character bonuses tried by --tune")
    a("--weight", type=float, default=0.5, help="LM weight stored without --tune (default: 0.5)")
    a("--bonus", type=float, default=1.0, help="per-character bonus stored without --tune (default: 1.0)")
    return parser


def train_documents() -> list[Path]:
    docs = []
    for name in TRAIN_SETS:
        folder = shared_dir() / "data" / name / "train"
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} not found (set HTR_SHARED to the folder holding data/)")
        docs += sorted(folder.glob("*.xml"))
    return docs


def document_texts(xml: Path, codec: Codec) -> list[str]:
    return [t for t in (codec.normalize(line.text) for line in read_document(xml).lines) if t]


def synthetic_texts(n: int, codec: Codec, seed: int = 0) -> list[str]:
    """``n`` lines of the text the recogniser's synthetic training lines are drawn from, less the real
    transcriptions mixed into it (counted on their own, and --tune holds some of them out)."""
    import numpy as np

    from htr.train.data import synth_text

    rng = np.random.default_rng(seed)
    return [t for t in (codec.normalize(synth_text(rng, 70, real=False)[0]) for _ in range(n)) if t]


def tune(held_out: list[Path], lm: CharLM, args) -> tuple[float, float]:
    """The (weight, bonus) of the grid with the lowest CER on the held-out documents' lines."""
    from htr.recognition.decode import LanguageModel, decode
    from htr.recognition.lines import document_lines
    from htr.recognition.recognizer import Recognizer

    recognizer = Recognizer(args.rec)
    crops, texts = [], []
    for xml in held_out:
        for line in document_lines(xml, recognizer.height):
            crops.append(line.image)
            texts.append(line.text)
    logprobs = recognizer.logprobs(crops)
    print(f"tuning on {len(crops)} lines of {len(held_out)} held-out train documents", flush=True)

    def cer(model) -> float:
        total = None
        for lp, text in zip(logprobs, texts):
            s = score_text(decode(lp, recognizer.codec, args.beam, recognizer.stride, model).text, text)
            total = s if total is None else total + s
        return total.cer

    print(f"  beam {args.beam} without LM: CER {cer(None):.4f}", flush=True)
    best = (float("inf"), args.weight, args.bonus)
    for weight, bonus in itertools.product(*(map(float, v.split(",")) for v in (args.lm_weights, args.bonuses))):
        score = cer(LanguageModel(lm, recognizer.codec, weight, bonus))
        print(f"  weight {weight:.2f} bonus {bonus:.2f}: CER {score:.4f}", flush=True)
        best = min(best, (score, weight, bonus))
    print(f"chosen: weight {best[1]} bonus {best[2]} (CER {best[0]:.4f})", flush=True)
    return best[1], best[2]


def run(args) -> int:
    import torch

    codec = Codec(torch.load(args.rec, map_location="cpu", weights_only=True)["charset"])
    docs = train_documents()
    texts_of = {d: document_texts(d, codec) for d in docs}  # each document parsed once
    synthetic = synthetic_texts(args.synthetic, codec)
    weight, bonus = args.weight, args.bonus
    if args.tune:
        held_out = docs[::10]
        kept = [d for d in docs if d not in held_out]
        lm = CharLM.build([t for d in kept for t in texts_of[d]] + synthetic, args.order)
        held_texts = [t for d in held_out for t in texts_of[d]]
        print(f"{args.order}-gram model of {len(kept)} documents: held-out perplexity {lm.perplexity(held_texts):.2f}",
              flush=True)
        weight, bonus = tune(held_out, lm, args)
    t0 = time.time()
    texts = [t for d in docs for t in texts_of[d]]
    lm = CharLM.build(texts + synthetic, args.order, {
        "weight": weight, "bonus": bonus, "documents": len(docs), "lines": len(texts),
        "characters": sum(map(len, texts)), "synthetic_lines": len(synthetic),
        "sources": [f"{s}/train" for s in TRAIN_SETS] + (["htr.train.data.synth_text"] if synthetic else [])})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    lm.save(args.out)
    size = Path(args.out).stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB): {args.order}-gram, {len(texts)} lines of {len(docs)} documents "
          f"and {len(synthetic)} synthetic lines, "
          f"weight {weight} bonus {bonus} ({time.time() - t0:.0f} s)")
    return 0


def main(argv=None) -> int:
    parser = configure_parser(argparse.ArgumentParser(prog="htr train lm", description=__doc__.split("\n\n")[0]))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
