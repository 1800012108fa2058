#!/bin/bash
# Shipping a recogniser (issue 30: when v3 reads the dev letters better than the shipped weights): WEIGHTS (a run's
# weights.pt or last.pt) becomes htr/weights/rec.pt (fp16), the language model is re-tuned for it
# (training/recipes/lm-v3.toml), its confidences calibrated on the corpus's dev lines of the sources other than
# hooker and testaments (htr/weights/MODEL_CARD.md, "Confidences"), and the accuracy record and the examples are made
# again. ~4 minutes on one core (session 23); then the commands (MODEL_CARD.md) and the model card's figures.
#   training/ship_rec.sh ~/runs/rec_v3_3/weights.pt
set -euo pipefail
weights=${1:?usage: training/ship_rec.sh WEIGHTS}
htr train rec --export "$weights" htr/weights/rec.pt
htr train lm --config training/recipes/lm-v3.toml --out htr/weights/lm.json.gz
htr train calibrate --data ~/.cache/htr/corpus64 --exclude hooker,testaments --weights htr/weights/rec.pt \
  --out htr/weights/rec.pt
python -m tests.accuracy --write
python examples/make_examples.py
git status --short htr/weights tests/accuracy_figures.json examples
