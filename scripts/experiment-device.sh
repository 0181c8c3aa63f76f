#!/usr/bin/env bash
# The method's experiment (issue 4) on the GPU machine, where fine-tuning can run long enough to get near
# convergence (docs/experiments.md §7: at the CPU's `small` preset, fine-tuning noise hides the effects).
#   bash scripts/experiment-device.sh OUT [preset] [runs]      (defaults: medium, 10)
# Needs dist/cli.js and dist/preprocess.wasm (npm run build) and onnxruntime-web, which dist/cli.js imports: here,
# bash ../shared/device/pack.sh node && bash bench/pack-ort.sh (it adds .dev/ort.tar.xz), plus the Vulkan loader
# packages of the device README in .gl (a machine of 2026-11-27 needed them: docs/experiments.md §13); carry .dev, .gl,
# dist/cli.js and dist/preprocess.wasm (all of dist is over the 64 MiB a call carries), and begin the command
# with `source .dev/prelude.sh`. The phantom and the pre-training checkpoints stay
# in /tmp/glocal-experiment (too many files to come back); OUT gets experiment.csv, .md, .svg and the log.
# Finished cells are skipped: to continue a call cut short, put its experiment.csv in a carried folder
# results-carry/ (pre-training is redone, which takes little time on a GPU). A session's device time is short:
# EXPERIMENT_MAX_S=S stops the runner after S seconds (a finished cell is saved at once), and the cells done so far
# still come back (the medium grid, 60 cells of ~31 s on an H200, takes ~31 min: docs/experiments.md §8).
set -euo pipefail
out=${1:?output folder}; preset=${2:-medium}; runs=${3:-10}; max_s=${EXPERIMENT_MAX_S:-0}
work=/tmp/glocal-experiment
mkdir -p "$out" "$work"
[ -f .dev/ort.tar.xz ] && tar -xJf .dev/ort.tar.xz # node_modules/onnxruntime-web (bench/pack-ort.sh)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
if [ -f results-carry/experiment.csv ]; then cp results-carry/experiment.csv "$work/"; fi
status=0
timeout "$max_s" node dist/cli.js experiment --preset "$preset" --runs "$runs" --methods random,GR,GD,GD+LD,GD+LD+mixup,benchmark \
  --out "$work" 2>&1 | tr '\r' '\n' | grep -v '^Warning: maxDynamic' | tee "$out/experiment-$preset.log" || status=$?
for f in experiment.csv experiment.md experiment.svg; do if [ -f "$work/$f" ]; then cp "$work/$f" "$out/"; fi; done
exit $status
