#!/usr/bin/env bash
# Mutation score of the training-critical modules (mutmut 3): bash benchmarks/mutation/run.sh [COMMIT] [OUT]
#
# Copies COMMIT (default HEAD) with `git archive` into OUT (default runs/mutation-<commit>), adds mutmut.toml's
# settings and the mutcache plugin there, and mutates losses, metrics, claims, lr_find (all but plot), the split
# functions of data/dataset.py and the per-step functions of train/loop.py (the rest of loop.py needs a training run
# per mutant). About 45 minutes on 2 cores. Not part of CI. `pip install mutmut` first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
commit="${1:-HEAD}"
out="${2:-$repo/runs/mutation-$(git -C "$repo" rev-parse --short "$commit")}"
mkdir -p "$out"
git -C "$repo" archive "$commit" | tar -x -C "$out"
cat "$here/mutmut.toml" >> "$out/pyproject.toml"
cp "$here/mutcache.py" "$out/"
cd "$out"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
python -m mutmut run --max-children 2 \
  'evalib.data.dataset.x_split_indices__mutmut_*' 'evalib.data.dataset.x_held_out__mutmut_*' \
  'evalib.data.dataset.x__groups__mutmut_*' 'evalib.claims.*' 'evalib.metrics.*' 'evalib.losses.*' \
  'evalib.train.lr_find.x_suggest__mutmut_*' 'evalib.train.lr_find.x_capped_steps__mutmut_*' \
  'evalib.train.lr_find.x_lr_find__mutmut_*' 'evalib.train.loop.x_train_one_epoch__mutmut_*' \
  'evalib.train.loop.x_evaluate__mutmut_*' 'evalib.train.loop.x__scores__mutmut_*' 'evalib.train.loop.x__better__mutmut_*' \
  'evalib.train.loop.x__stopped__mutmut_*' 'evalib.train.loop.x_ema_model__mutmut_*' \
  'evalib.train.loop.x__check_finite__mutmut_*' || true
python -m mutmut results --all true > results.txt
echo "mutants by status (results.txt in $out):"
awk -F': ' 'NF == 2 {print $2}' results.txt | sort | uniq -c
