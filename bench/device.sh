#!/usr/bin/env bash
# The model benchmark on a GPU machine, PyTorch beside it, so every GPU ratio comes from one machine and one call.
#
#   bash bench/device.sh node OUT    PyTorch (CUDA; fp32 and TF32), then glocal + tfjs-webgpu in Node (Dawn)
#   bash bench/device.sh deno OUT    glocal in Node again (the baseline), then glocal in Deno (wgpu), same machine
#   bash bench/device.sh kernels OUT the kernel benchmark (per-layer GFLOP/s, tfjs beside it)
#
# Needs dist/ (npm run build) and, on a machine without node/deno, the carried binaries (source .dev/prelude.sh
# first; see ../shared/device). Results: OUT/*.json and logs; render them here with
#   node dist/bench/model.js --render OUT/node.json OUT/node-rerun.json OUT/deno.json
# which rewrites BENCHMARKS.md's "Model: GPU machine" section (the card is named in it).
set -euo pipefail
mode=${1:?node|deno|kernels}; out=${2:?output folder}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu-$mode.txt" 2>/dev/null || true
case "$mode" in
  node)
    PYTHONUNBUFFERED=1 python3 bench/torch_unet.py --device cuda --out "$out/torch.json" 2>&1 | tee "$out/torch.log"
    node dist/bench/model.js --torch "$out/torch.json" --json "$out/node.json" 2>&1 | tee "$out/node.log" ;;
  deno)
    node dist/bench/model.js --no-tfjs --label 'node, deno call' --json "$out/node-rerun.json" 2>&1 | tee "$out/node-rerun.log"
    deno run -A dist/bench/model.js --no-tfjs --json "$out/deno.json" 2>&1 | tee "$out/deno.log" ;;
  kernels)
    node dist/bench/kernels.js --no-write 2>&1 | tee "$out/kernels.log" ;;
  *) echo "unknown mode '$mode' (node|deno|kernels)" >&2; exit 2 ;;
esac
