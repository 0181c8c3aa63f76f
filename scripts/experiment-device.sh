#!/usr/bin/env bash
# The method's experiment (issue 4) on the GPU machine, where fine-tuning can run long enough to get near
# convergence (docs/experiments.md §7: at the CPU's `small` preset, fine-tuning noise hides the effects).
#   bash scripts/experiment-device.sh OUT [preset] [runs]      (defaults: medium, 10)
# Needs dist/ (npm run build). On the device machine: bash ../shared/device/pack.sh node here, carry .dev, .gl
# and dist, and begin the command with `source .dev/prelude.sh`. The phantom and the pre-training checkpoints stay
# in /tmp/glocal-experiment (too many files to come back); OUT gets experiment.csv, .md, .svg and the log.
# Finished cells are skipped: to continue a call cut short, put its experiment.csv in a carried folder
# results-carry/ (pre-training is redone, which takes little time on a GPU).
set -euo pipefail
out=${1:?output folder}; preset=${2:-medium}; runs=${3:-10}
work=/tmp/glocal-experiment
mkdir -p "$out" "$work"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
if [ -f results-carry/experiment.csv ]; then cp results-carry/experiment.csv "$work/"; fi
status=0
node dist/cli.js experiment --preset "$preset" --runs "$runs" --methods random,GR,GD,GD+LD,GD+LD+mixup,benchmark \
  --out "$work" 2>&1 | tr '\r' '\n' | grep -v '^Warning: maxDynamic' | tee "$out/experiment-$preset.log" || status=$?
for f in experiment.csv experiment.md experiment.svg; do if [ -f "$work/$f" ]; then cp "$work/$f" "$out/"; fi; done
exit $status
