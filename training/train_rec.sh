#!/bin/bash
# The recogniser's v2 recipe (MODEL_CARD.md, "Version 2"): the shipped v1 weights grown and trained on the whole
# public corpus. CORPUS: ~/.cache/htr/corpus, built by training/build_corpus.py and `htr data compile` of
# ../shared/data's hooker and testaments splits (docs/training.md, "The public corpus"); a cycle's options are the recipe
# training/recipes/rec-v2-cycle.toml (which names the corpus's sources there).
#   training/train_rec.sh candidates          # 1. shapes at equal time (15 minutes each, table in RUNS/grown)
#   training/train_rec.sh cycle N MINUTES     # 2. cycle N of the winner (A), a cosine cycle over MINUTES
#   INIT=htr/weights/rec.pt training/train_rec.sh cycle 4 100   # from a weights file
# Version 3 (MODEL_CARD.md, "Version 3"; CORPUS64: the corpus compiled at 64 px):
#   training/train_rec.sh v3-candidates       # 1. four shapes from scratch, 45 CPU minutes each, side by side
#   training/train_rec.sh v3 N MINUTES [OPTIONS]  # 2. cycle N of the winner: from cycle N-1's last state where
#                                             #    this machine has it, else the committed checkpoints/rec/v3.pt;
#                                             #    OPTIONS go to `htr train rec` (e.g. --threads 1)
#   training/train_rec.sh v3-augment MINUTES [OPTIONS]  # augmentation on and off: branches of INIT (default:
#                                             #    checkpoints/rec/v3.pt), one per strength in STRENGTHS (default
#                                             #    "1.0 0.0"), side by side, MINUTES of CPU time each
#   training/train_rec.sh v3-english MINUTES  # English cursive weighed up: the cycle recipe with hooker/train at
#                                             #    weight 3, at 6, and at 3 with 40% synthetic lines (mostly
#                                             #    English), three branches of INIT side by side, MINUTES of CPU time
#                                             #    each (session 22; the recipe has had hooker 6 since)
set -euo pipefail
CORPUS=${CORPUS:-$HOME/.cache/htr/corpus}
RUNS=${RUNS:-$HOME/runs}
HTR=${HTR:-htr}
case ${1:-} in
  candidates)
    python training/candidates.py --corpus "$CORPUS" --minutes 15 --out "$RUNS/grown" --only A,D,E --bf16 auto ;;
  v3-candidates)
    python training/candidates.py --corpus "${CORPUS64:-$HOME/.cache/htr/corpus64}" --minutes 45 --out "$RUNS/v3cand" ;;
  v3)
    n=$2; minutes=$3
    if [ -n "${INIT:-}" ]; then init=$INIT
    elif [ -f "$RUNS/rec_v3_$((n - 1))/last.pt" ]; then init=$RUNS/rec_v3_$((n - 1))/last.pt
    else init=checkpoints/rec/v3.pt; fi
    $HTR train rec --config training/recipes/rec-v3-cycle.toml --out "$RUNS/rec_v3_$n" --init "$init" \
      --minutes "$minutes" --seed $((n + 1)) "${@:4}" ;;
  v3-augment)
    minutes=$2; init=${INIT:-checkpoints/rec/v3.pt}; mkdir -p "$RUNS/v3aug"
    for a in ${STRENGTHS:-1.0 0.0}; do
      $HTR train rec --config training/recipes/rec-v3-cycle.toml --out "$RUNS/v3aug/augment-$a" --init "$init" \
        --minutes "$minutes" --clock cpu --threads 1 --workers 0 --augment $a --seed 7 \
        --eval-every 400 "${@:3}" > "$RUNS/v3aug/augment-$a.log" 2>&1 &
    done
    wait
    python -c "import sys; from pathlib import Path; from htr.train.plot import plot_runs
runs = Path(sys.argv[1]); plot_runs({p.name: p / 'log.csv' for p in sorted(runs.glob('augment-*/'))}, runs / 'cer_vs_cpu.png')" \
      "$RUNS/v3aug" ;;
  v3-english)
    minutes=$2; init=${INIT:-checkpoints/rec/v3.pt}; out=$RUNS/v3eng; mkdir -p "$out"
    recipe=training/recipes/rec-v3-cycle.toml
    sed 's#corpus64/hooker:[0-9.]*"#corpus64/hooker:3"#' $recipe > "$out/base.toml"
    sed 's#corpus64/hooker:[0-9.]*"#corpus64/hooker:6"#' $recipe > "$out/hooker6.toml"
    sed 's#^synth_final = 0.25#synth_final = 0.4#' "$out/base.toml" > "$out/synth40.toml"
    for b in base hooker6 synth40; do
      $HTR train rec --config "$out/$b.toml" --out "$out/$b" --init "$init" --minutes "$minutes" --clock cpu \
        --threads 1 --workers 0 --seed 7 --eval-every 400 > "$out/$b.log" 2>&1 &
    done
    wait
    python -c "import sys; from pathlib import Path; from htr.train.plot import plot_runs
runs = Path(sys.argv[1]); plot_runs({b: runs / b / 'log.csv' for b in ('base', 'hooker6', 'synth40')}, runs / 'cer_vs_cpu.png')" \
      "$out" ;;
  cycle)
    n=$2; minutes=$3
    # from INIT if given, else the previous cycle's last state where this machine still has it, else the
    # shipped weights
    if [ -n "${INIT:-}" ]; then init=$INIT
    elif [ "$n" -eq 1 ]; then init=$RUNS/grown/A/last.pt
    elif [ "$n" -eq 2 ]; then init=$RUNS/rec_v2/last.pt
    else init=$RUNS/rec_v2_$((n - 1))/last.pt; fi
    [ -f "$init" ] || init=htr/weights/rec.pt
    [ "$n" -eq 1 ] && out=$RUNS/rec_v2 || out=$RUNS/rec_v2_$n
    $HTR train rec --config training/recipes/rec-v2-cycle.toml --out "$out" --init "$init" --minutes "$minutes" \
      --seed $((n + 1)) ;;
  *) sed -n 2,12p "$0"; exit 2 ;;
esac
