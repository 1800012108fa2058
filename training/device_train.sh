#!/bin/bash
# The recogniser v3 trained on a GPU machine (the device tool's `run`; issue 30, step 5). Prepared here:
#   echo /.shard/ >> .git/info/exclude; echo /.whl/ >> .git/info/exclude
#   python training/device_shard.py pack --out .shard --mib 20          # the corpus's dev subset + a share of train
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl shapely tomli-w   # what it lacks
# then one call: run(command="training/device_train.sh 8", carry=[".shard", ".whl"], timeout_s=600). It unpacks the
# shard where the cycle recipe reads its corpus, trains the cycle recipe's model from checkpoints/rec/v3.pt for MINUTES
# on the GPU (batch 64, real lines only: the fonts of the synthetic lines stay here; augmented, since the shard is a
# twelfth of the corpus) and writes the weights (fp16), the log and the curve to $OUT. Tested on this machine's CPU:
#   HOME=/tmp/device-test OUT=/tmp/device-test/out DEVICE=cpu WORKERS=1 training/device_train.sh 0.5
set -euo pipefail
minutes=${1:?usage: training/device_train.sh MINUTES}
OUT=${OUT:?OUT: the folder whose files come back}
RUN=${RUN:-/tmp/rec_v3_device}
if ! python3 -c "import shapely, tomli_w" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
python3 training/device_shard.py unpack .shard ~/.cache/htr/corpus64
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || lscpu | grep "Model name"
python3 -m htr.train.rec --config training/recipes/rec-v3-cycle.toml --out "$RUN" --init checkpoints/rec/v3.pt \
  --minutes "$minutes" --device "${DEVICE:-cuda}" --batch-size 64 --lr 2e-3 --warmup 100 --synth off --augment 1.0 \
  --workers "${WORKERS:-14}" --threads 2 --eval-every 500 --ckpt-minutes 2 --seed 11 2>&1 | tee "$OUT/train.log"
python3 -m htr.train.rec --export "$RUN/last.pt" "$OUT/v3_device.pt"
cp "$RUN/log.csv" "$RUN/curve.png" "$RUN/recipe.toml" "$OUT/"
