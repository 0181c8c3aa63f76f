#!/usr/bin/env bash
# The experiment's cells in several runners at once on one GPU (docs/experiments.md §13). At the `medium` preset a
# fine-tuning keeps an H200 busy only between its many small kernels' host round trips, so Node processes side by
# side, each with its own cells, finish the grid sooner than one runner does.
#   bash scripts/experiment-parallel.sh OUT PRESET JOB...
# JOB is METHOD:FIRST-LAST[@STAGE]: one runner for those runs of the method (2 labeled volumes, or EXPERIMENT_ARGS's --labeled). With @STAGE it
# starts only once pretrain/PRESET/STAGE.safetensors exists, so that one runner, not two, trains each stage (two
# runners training one stage would overwrite each other's resume checkpoint); a runner listed before it must
# train that stage. For example
#   random:1-5 random:6-10 GR:1-5 GD+LD:1-5 GR:6-10@GR GD+LD:6-10@GD+LD
# Each runner has its own folder, log and experiment.csv (the runner locks its CSV while rewriting it), with the phantom
# and the pre-training checkpoints shared through links. At the end the rows are merged into OUT/experiment.csv
# and the table and plot written from them (--report-only). Rows of an earlier call, carried in
# results-carry/experiment.csv, go to every runner, which skips those cells. EXPERIMENT_MAX_S=S stops every runner S seconds after
# the start; each finished cell is already saved. EXPERIMENT_ARGS='--labeled 1 --draw disjoint' (any of the runner's
# options but those above) goes to every runner and to the final table. On the GPU machine: see
# scripts/experiment-device.sh for what to carry, and begin with `source .dev/prelude.sh`.
set -euo pipefail
out=${1:?output folder}; preset=${2:?preset}; shift 2
[ $# -gt 0 ] || { echo "experiment-parallel: no JOB given (METHOD:FIRST-LAST[@STAGE])" >&2; exit 2; }
max_s=${EXPERIMENT_MAX_S:-0}
read -r -a extra <<<"${EXPERIMENT_ARGS:-}"
work=/tmp/glocal-parallel
mkdir -p "$out" "$work/pretrain"
if [ -f .dev/ort.tar.xz ] && [ ! -d node_modules/onnxruntime-web ]; then tar -xJf .dev/ort.tar.xz; fi # bench/pack-ort.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
# no adapter, no runners: a failed Vulkan driver would otherwise leave the waiting runners idle until EXPERIMENT_MAX_S
node dist/cli.js demo --steps 1 --size 32 | grep '^adapter' || { echo 'experiment-parallel: no GPU adapter (see the output above)' >&2; exit 1; }
[ -f "$work/data/manifest.json" ] || node dist/cli.js phantom --out "$work/data" --n 32 --seed 1 # the runner's default data
dmon=''
if command -v nvidia-smi >/dev/null; then nvidia-smi dmon -s um -d 5 -o T >"$out/gpu-utilisation.log" 2>&1 & dmon=$!; fi
start=$(date +%s); pids=(); dirs=(); methods=(); runs=0
elapsed() { echo $(( $(date +%s) - start )); }
for job in "$@"; do
  [[ $job =~ ^([^:@]+):([0-9]+)-([0-9]+)(@(.+))?$ ]] || { echo "experiment-parallel: '$job' is not METHOD:FIRST-LAST[@STAGE]" >&2; exit 2; }
  method=${BASH_REMATCH[1]}; first=${BASH_REMATCH[2]}; last=${BASH_REMATCH[3]}; stage=${BASH_REMATCH[5]}
  dir="$work/runner-${#dirs[@]}"; leaders=("${pids[@]}")
  mkdir -p "$dir"; ln -sfn "$work/data" "$dir/data"; ln -sfn "$work/pretrain" "$dir/pretrain"
  (
    if [ -n "$stage" ]; then
      while [ ! -f "$work/pretrain/$preset/$stage.safetensors" ]; do
        if [ "$max_s" != 0 ] && [ "$(elapsed)" -ge "$max_s" ]; then echo "stopped waiting for stage $stage"; exit 0; fi
        # the runners listed before this one train the stages: when all have ended without it, it never comes
        alive=0; for p in "${leaders[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 1 ] || { echo "stage $stage was not trained: the runners before this one have ended (see their logs)"; exit 1; }
        sleep 2
      done
    fi
    limit=0
    if [ "$max_s" != 0 ]; then limit=$(( max_s - $(elapsed) )); [ "$limit" -gt 0 ] || exit 0; fi
    # the runner rewrites the carried rows in its own columns at once, so every runner's file merges line by line
    if [ -f results-carry/experiment.csv ] && [ ! -f "$dir/experiment.csv" ]; then cp results-carry/experiment.csv "$dir/"; fi
    echo "$(elapsed) s: starts $job"
    timeout "$limit" node dist/cli.js experiment --preset "$preset" --methods "$method" --runs "$last" --first-run "$first" --out "$dir" "${extra[@]}"
  ) >"$dir/log" 2>&1 &
  pids+=($!); dirs+=("$dir"); methods+=("$method"); [ "$last" -gt "$runs" ] && runs=$last
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done # 124: a runner was stopped by EXPERIMENT_MAX_S
echo "runners done after $(elapsed) s (status $status)"
[ -n "$dmon" ] && kill "$dmon" 2>/dev/null || true
for i in "${!dirs[@]}"; do echo "=== runner $i: ${*:$((i + 1)):1}"; tr '\r' '\n' <"${dirs[$i]}/log" | grep -v '^Warning: maxDynamic'; done >"$out/runners.log"
csvs=("$work"/runner-*/experiment.csv)
if [ -f "${csvs[0]}" ]; then
  cat "${csvs[@]}" | awk '!seen[$0]++' >"$work/experiment.csv.tmp" # one header; carried rows are in every file
  mv "$work/experiment.csv.tmp" "$work/experiment.csv"
  list=$(printf '%s\n' "${methods[@]}" | awk '!seen[$0]++' | paste -sd, -)
  node dist/cli.js experiment --preset "$preset" --methods "$list" --runs "$runs" --out "$work" --report-only "${extra[@]}" 2>&1 | grep -v '^Warning: maxDynamic'
  cp "$work"/experiment.{csv,md,svg} "$out/"
fi
exit $status
