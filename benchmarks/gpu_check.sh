#!/usr/bin/env bash
# One command for a GPU machine: the loader and training benchmarks on CUDA, and one notebook in the full
# profile for a few minutes; every figure goes to one file.
#
#   bash benchmarks/gpu_check.sh                      # writes benchmarks/gpu_check-<time>.txt
#   OUT=/some/file.txt NOTEBOOK=12 STEPS=300 bash benchmarks/gpu_check.sh
#   DEVICE=cpu QUICK=1 bash benchmarks/gpu_check.sh   # the same steps on a CPU, tiny: checks the script itself
#
# Steps (each with a time limit, each reported even if an earlier one failed):
#   1. the machine: GPU name and memory, torch and CUDA versions, what TrainConfig's defaults choose on it;
#   2. data: data/fgbg (10,000 composites at 224x224), built if missing;
#   3. loading: bench_data.py load at 96x96, batch 256, 8 workers, augmentation on the GPU (goal: at least
#      10,000 images/s);
#   4. training: bench_train.py (dnn2 and unet_ed, batch 256, bf16 autocast, channels_last, pinned memory):
#      images/s against the compute-only limit and the share of time spent waiting for data (goal: a few %);
#   5. a notebook (default 10_encoder_decoder) in the full profile on data/fgbg, every run cut at STEPS steps,
#      its executed copy and report under runs/gpu-check-<time>/.
# Exit status: 0 when every step ran, 1 otherwise. Nothing is downloaded.
set -uo pipefail
cd "$(dirname "$0")/.."

stamp=$(date +%Y%m%d-%H%M%S)
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
NOTEBOOK=${NOTEBOOK:-10}
STEPS=${STEPS:-100}
OUT=${OUT:-benchmarks/gpu_check-$stamp.txt}
DATA=${DATA:-data/fgbg}
RUN=$PWD/runs/gpu-check-$stamp  # absolute: the notebooks run in notebooks/
PY=${PYTHON:-python}
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
failed=0

note() { echo "$*" | tee -a "$OUT"; }
step() {  # step NAME SECONDS COMMAND...: run it, its output into the file, its status and time noted
  local name=$1 limit=$2
  shift 2
  note ""
  note "## $name"
  note "\$ $*"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$OUT"
  local rc=${PIPESTATUS[0]}
  note "-> $name: exit $rc after $((SECONDS - t0)) s"
  [ "$rc" = 0 ] || failed=1
}

if [ "$DEVICE" = cuda ] && ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  note "no CUDA device is visible to torch here; run this on a GPU machine (or DEVICE=cpu QUICK=1 to check the script)"
  exit 2
fi

if [ "$QUICK" = 1 ]; then  # minutes on a CPU: the plumbing, not figures
  DATA=$RUN/data
  load_args=(--workers 2 --batch 64 --rounds 1 --seconds 1)
  train_args=(--models unet_ed --workers 1 --batch 32 --fraction 0.2 --rounds 1)
  STEPS=1
  NOTEBOOK=${NOTEBOOK_QUICK:-12}
else
  load_args=(--workers 8 --batch 256 --rounds 3)
  train_args=(--models dnn2 unet_ed --workers 8 --batch 256 --rounds 2)
fi

note "# DepthMask GPU check, $stamp"
step "machine" 120 $PY - "$DEVICE" <<'EOF'
import os, platform, sys
import torch
from evalib.train.runtime import device_plan
dev = torch.device(sys.argv[1])
print(f"host: {platform.node()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, torch {torch.__version__}, "
      f"CUDA {torch.version.cuda}")
if dev.type == "cuda":
    p = torch.cuda.get_device_properties(dev)
    print(f"GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}")
print("TrainConfig defaults here:", device_plan(dev).describe())
EOF
if [ "$QUICK" = 1 ]; then
  step "data" 600 $PY -m evalib.data build --out "$DATA" --count 1000 --size 96 --seed 0
else
  step "data" 1800 $PY -c "from evalib.data import ensure_dataset; print(ensure_dataset('$DATA'))"
fi
step "loading at 96x96" 1200 $PY benchmarks/bench_data.py load --device "$DEVICE" --size 96 --data "$DATA" "${load_args[@]}"
step "training" 1800 $PY benchmarks/bench_train.py --device "$DEVICE" --size 96 --data "$DATA" "${train_args[@]}"
step "notebook $NOTEBOOK, full profile, $STEPS steps a run" 1800 \
  env DEPTHMASK_RUNS="$RUN/runs" $PY -m evalib reproduce --profile full --only "$NOTEBOOK" --data "$DATA" \
  --max-steps "$STEPS" --out "$RUN/notebooks"

note ""
note "## summary"
grep -E "^machine|^GPU|^TrainConfig|^[a-z0-9_]+: .* images per epoch|^  (per-file|packed|compute only|FastLoader)|\] full profile|notebooks ok|^-> " \
  "$OUT" >"$OUT.tmp"
tee -a "$OUT" <"$OUT.tmp" && rm -f "$OUT.tmp"
note "figures: $OUT; the notebook's executed copy and report: $RUN/notebooks"
exit $failed
