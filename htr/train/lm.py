"""Building the language model: ``htr train lm`` (writes htr/weights/lm.json.gz).

Counts character n-grams of training transcriptions (never dev splits): the train lines of a compiled corpus
(``--corpus``), or by default of ../shared/data/{hooker,testaments}/train; and of ``--synthetic`` lines of the
recogniser's synthetic text (names in capitals, dates, addresses, numbers, other languages) so that the model does
not penalise what letters and wills rarely hold. ``--lexicons`` adds a word list per language from the ``wordfreq``
package (its ``--lexicon-size`` most frequent words of letters only, lower case), which the beam search rewards a
word for being in (``--lang`` picks the lists at decoding time).

``--tune`` first picks the beam search's weights: the character model is built without a tenth of the train
documents (of ``--tune-sources`` with --corpus), those documents' lines are recognised once with ``--rec``, and the
grid is scored by CER on them: (LM weight, per-character bonus) first, then (bonus for a known word, for an
unknown one) at each of the best three pairs. With ``--tune-split dev`` the grid is scored on the dev lines of
``--tune-sources`` instead (lines that neither the recogniser nor the character model trained on, read as a new
archive's would be), and the character model is built from every train document. The chosen values are stored
with the model, which is then rebuilt from all train documents.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

from htr.errors import ResourceError, UsageError
from htr.evaluate import score_text
from htr.formats import read_document
from htr.paths import DEFAULT_LM, default_weights, shared_dir
from htr.recognition.codec import Codec
from htr.recognition.decode import DEFAULT_BEAM
from htr.recognition.lm import CharLM
from htr.train.data import TRAIN_SETS
from htr.train.recipe import add_config_option, option, recipe_of


@dataclasses.dataclass
class LMRecipe:
    """The options of a language model build (``htr train lm --help``), stored in the model's metadata."""

    order: int = 5
    rec: str = str(default_weights("rec"))
    corpus: str | None = None
    synthetic: int = 5000
    lexicons: str = ""
    lexicon_size: int = 50000
    tune: bool = False
    tune_sources: str = "hooker,testaments"
    tune_split: str = "train"
    beam: int = DEFAULT_BEAM  # the beam search's weights are tuned at the width htr reads with
    lm_weights: str = "0.3,0.4,0.5"
    bonuses: str = "1,1.5,2"
    known: str = "0,1,2,3"
    unknown: str = "0,-1"
    lang: str = "en,fr"
    weight: float = 0.5
    bonus: float = 1.0


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    def a(*flags, **kwargs):
        option(parser, LMRecipe, *flags, **kwargs)

    parser.add_argument("--out", default=str(DEFAULT_LM), help="where to write the model (default: the shipped "
                        "htr/weights/lm.json.gz)")
    add_config_option(parser)
    a("--order", type=int, help="n-gram order in characters")
    a("--rec", help="recogniser weights: their charset, and the model --tune decodes with")
    a("--corpus", help="a compiled corpus (htr data compile) whose train lines are counted (default: the train "
      "splits of ../shared/data hooker and testaments)")
    a("--synthetic", type=int, help="lines of synthetic text added to the counts")
    a("--lexicons", help="languages whose word lists (from the wordfreq package) go into the model, "
      "comma-separated codes, e.g. en,fr,de (default: none)")
    a("--lexicon-size", type=int, help="most frequent words kept per language")
    a("--tune", action="store_true", help="choose the decoding weights on held-out train documents first")
    a("--tune-sources", help="with --corpus: the sources whose held-out documents --tune scores on")
    a("--tune-split", choices=["train", "dev"], help="with --corpus: --tune scores on a tenth of the train documents "
      "of --tune-sources held out of the model (train) or on their dev lines (dev)")
    a("--beam", type=int, help="beam width for --tune")
    a("--lm-weights", help="LM weights tried by --tune")
    a("--bonuses", help="per-character bonuses tried by --tune")
    a("--known", help="bonuses for a word in the word lists tried by --tune")
    a("--unknown", help="bonuses for a word not in them tried by --tune")
    a("--lang", help="the word lists --tune decodes with")
    a("--weight", type=float, help="LM weight stored without --tune")
    a("--bonus", type=float, help="per-character bonus stored without --tune")
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


def documents(args, codec: Codec, height: int) -> tuple[dict[str, list[str]], list[str], Callable]:
    """(train transcriptions by document, the documents --tune holds out, a function giving (crops, texts) of
    the lines of some documents, crops ``height`` high)."""
    if not args.corpus:
        if args.tune_split != "train":
            raise UsageError("--tune-split dev needs --corpus (a compiled corpus with dev lines)")
        docs = train_documents()
        texts = {str(d): document_texts(d, codec) for d in docs}  # each document parsed once

        def shared_lines(keys):
            from htr.data.lines import document_lines

            lines = [line for k in keys for line in document_lines(Path(k), height)]
            return [line.image for line in lines], [line.text for line in lines]
        return texts, [str(d) for d in docs[::10]], shared_lines
    from htr.data.corpus import open_lines

    def by_document(lines) -> dict[str, list[int]]:
        indices: dict[str, list[int]] = defaultdict(list)
        for i, name in enumerate(lines.names):
            indices[name.split(":")[0]].append(i)  # "<source>/<doc>"
        return indices

    lines = open_lines(args.corpus, "train").at_height(height)  # as the recogniser reads them
    by_doc = by_document(lines)
    texts = {d: [t for t in (codec.normalize(lines.texts[i]) for i in idx) if t] for d, idx in by_doc.items()}
    tune_lines, tune_docs = lines, by_doc
    sources = args.tune_sources.split(",")
    if args.tune_split == "dev":  # documents outside `texts`: the model is built from every train document
        tune_lines = open_lines(args.corpus, "dev", sources).at_height(height)
        tune_docs = by_document(tune_lines)
        held_out = sorted(tune_docs)
    else:
        held_out = sorted(d for d in by_doc if d.split("/")[0] in sources)[::10]

    def corpus_lines(keys):
        idx = [i for k in keys for i in tune_docs[k]]
        return [tune_lines.image(i) for i in idx], [tune_lines.texts[i] for i in idx]
    return texts, held_out, corpus_lines


def synthetic_texts(n: int, codec: Codec, seed: int = 0) -> list[str]:
    """``n`` lines of the text the recogniser's synthetic training lines are drawn from, less the real
    transcriptions mixed into it (counted on their own, and --tune holds some of them out)."""
    import numpy as np

    from htr.train.data import synth_text

    rng = np.random.default_rng(seed)
    return [t for t in (codec.normalize(synth_text(rng, 70, real=False)[0]) for _ in range(n)) if t]


def lexicon(lang: str, size: int, codec: Codec) -> list[str]:
    """The ``size`` most frequent words of ``lang`` in wordfreq made of letters the codec has (two or more)."""
    try:
        import wordfreq
    except ImportError as err:
        raise ResourceError("--lexicons needs the wordfreq package: pip install wordfreq") from err
    if lang not in wordfreq.available_languages():
        raise UsageError(f"--lexicons: wordfreq has no word list for {lang!r}")
    words = []
    for word in wordfreq.top_n_list(lang, 3 * size):
        if len(word) >= 2 and word.isalpha() and not codec.unknown_chars(word):
            words.append(word)
            if len(words) == size:
                break
    return words


def tune(crops: list, texts: list[str], lm: CharLM, args) -> dict[str, float]:
    """The decoding weights of the grid with the lowest CER on the held-out lines: (weight, bonus) first, then
    (known, unknown) at each of the best three pairs when the model has word lists."""
    from htr.recognition.decode import LanguageModel, decode
    from htr.recognition.recognizer import Recognizer

    recognizer = Recognizer(args.rec, lm=None)
    logprobs = recognizer.logprobs(crops)
    print(f"tuning on {len(crops)} held-out lines", flush=True)

    def cer(model) -> float:
        total = None
        for lp, text in zip(logprobs, texts):
            s = score_text(decode(lp, recognizer.codec, args.beam, recognizer.stride, model).text, text)
            total = s if total is None else total + s
        return total.cer

    def grid(*values: str):
        return itertools.product(*(map(float, v.split(",")) for v in values))

    print(f"  beam {args.beam} without LM: CER {cer(None):.4f}", flush=True)
    pairs = []  # (CER, weight, bonus)
    for weight, bonus in grid(args.lm_weights, args.bonuses):
        pairs.append((cer(LanguageModel(lm, recognizer.codec, weight, bonus)), weight, bonus))
        print(f"  weight {weight:.2f} bonus {bonus:.2f}: CER {pairs[-1][0]:.4f}", flush=True)
    pairs.sort()
    best = (pairs[0][0], pairs[0][1], pairs[0][2], 0.0, 0.0)  # (CER, weight, bonus, known, unknown)
    langs = tuple(x for x in args.lang.split(",") if x in lm.lexicons)
    if langs:  # the word lists' grid at each of the best three pairs: the best pair alone can be the wrong one
        words = lm.words(langs)
        for _, weight, bonus in pairs[:3]:
            for known, unknown in grid(args.known, args.unknown):
                score = cer(LanguageModel(lm, recognizer.codec, weight, bonus, words, known, unknown))
                print(f"  weight {weight:.2f} bonus {bonus:.2f} word lists {','.join(langs)}: known {known:+.1f} "
                      f"unknown {unknown:+.1f}: CER {score:.4f}", flush=True)
                best = min(best, (score, weight, bonus, known, unknown))
    chosen = dict(zip(("weight", "bonus", "known", "unknown"), best[1:]))
    print(f"chosen: {chosen} (CER {best[0]:.4f})", flush=True)
    return chosen


def run(cli: argparse.Namespace) -> int:
    import torch

    try:
        args = recipe_of(LMRecipe, cli)
    except UsageError as err:
        print(f"htr: error: {err}", file=sys.stderr)
        return 2
    blob = torch.load(args.rec, map_location="cpu", weights_only=True)
    codec = Codec(blob["charset"])
    texts_of, held_out, lines_of = documents(args, codec, blob["preprocess"]["height"])
    synthetic = synthetic_texts(args.synthetic, codec)
    langs = [x for x in args.lexicons.split(",") if x]
    lexicons = {lang: lexicon(lang, args.lexicon_size, codec) for lang in langs}
    chosen = {"weight": args.weight, "bonus": args.bonus}
    if args.tune:
        held = set(held_out)
        kept = [d for d in texts_of if d not in held]
        lm = CharLM.build([t for d in kept for t in texts_of[d]] + synthetic, args.order)
        lm.lexicons = lexicons
        crops, held_texts = lines_of(held_out)
        perplexity = lm.perplexity([t for t in map(codec.normalize, held_texts) if t])
        print(f"{args.order}-gram model of {len(kept)} documents: held-out perplexity {perplexity:.2f}", flush=True)
        chosen = tune(crops, held_texts, lm, args)
    t0 = time.time()
    texts = [t for d in texts_of for t in texts_of[d]]
    sources = sorted({d.split("/")[0] for d in texts_of}) if args.corpus else [f"{s}/train" for s in TRAIN_SETS]
    lm = CharLM.build(texts + synthetic, args.order, {
        **chosen, "documents": len(texts_of), "lines": len(texts), "characters": sum(map(len, texts)),
        "synthetic_lines": len(synthetic),
        "sources": sources + (["htr.train.data.synth_text"] if synthetic else []),
        "lexicons": {lang: f"wordfreq {len(words)} words" for lang, words in lexicons.items()},
        "recipe": dataclasses.asdict(args)})
    lm.lexicons = lexicons
    Path(cli.out).parent.mkdir(parents=True, exist_ok=True)
    lm.save(cli.out)
    size = Path(cli.out).stat().st_size / 1e6
    print(f"wrote {cli.out} ({size:.1f} MB): {args.order}-gram, {len(texts)} lines of {len(texts_of)} documents "
          f"and {len(synthetic)} synthetic lines, word lists {', '.join(lexicons) or 'none'}; {chosen} "
          f"({time.time() - t0:.0f} s)")
    return 0


def main(argv=None) -> int:
    parser = configure_parser(argparse.ArgumentParser(prog="htr train lm", description=__doc__.split("\n\n")[0]))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
