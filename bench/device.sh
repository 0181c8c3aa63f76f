#!/usr/bin/env bash
# The model benchmark on a GPU machine, PyTorch beside it, so every GPU ratio comes from one machine and one call.
#
#   bash bench/device.sh OUT [node] [variants] [convs] [splitk] [deno] [tiles] [kernels]      (default: node deno)
#     node     PyTorch (CUDA; fp32 and TF32), then glocal (with a per-kernel profile), tfjs-webgpu and
#              onnxruntime-web's webgpu EP in Node (Dawn)
#     variants glocal in Node with one submit per step, with a submit every 16 dispatches, and with the swept
#              tiles of $TILES (default OUT/tiles.json); with `deno`, Deno with one submit per step too
#     convs    glocal in Node with the thin convolutions (1 input channel, 4 outputs) on the direct kernels
#              (all of their passes; forward and input gradient only); with `deno`, Deno with the first too
#     splitk   glocal in Node without split-K in the inference conv GEMMs (--row-split 0)
#     deno     glocal in Deno (wgpu); without `node` in the same call, glocal in Node first as its baseline
#     tiles    the GEMM tile sweep (bench/tiles.ts, OUT/tiles.json), then glocal in Node with the fastest tiles
#     kernels  the kernel benchmark (per-layer GFLOP/s, tfjs beside it), console only
#
# Needs dist/bench/*.js (npm run build; carry dist/bench) and, on a machine without node/deno, the carried
# binaries (here: bash ../shared/device/pack.sh node, and bash bench/pack-ort.sh for onnxruntime-web; there:
# source .dev/prelude.sh first). Results: OUT/*.json (at most 7 files: the GPU machine returns 8, so tee the
# console to OUT/call.log). Render them here with
#   node dist/bench/model.js --render OUT/node.json OUT/deno.json OUT/node-*.json OUT/deno-*.json
#   node dist/bench/tiles.js --render OUT/tiles.json
# which rewrite BENCHMARKS.md's "Model: GPU machine" and tile sections (the card is named in them).
set -uo pipefail
out=${1:?output folder}; shift
parts=" ${*:-node deno} "
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
rc=0
[ -f .dev/ort.tar.xz ] && tar -xJf .dev/ort.tar.xz # onnxruntime-web for the webgpu EP row (bench/pack-ort.sh)
if [[ $parts == *" node "* ]]; then
  PYTHONUNBUFFERED=1 python3 bench/torch_unet.py --device cuda --out "$out/torch.json" || rc=1
  node dist/bench/model.js --profile --torch "$out/torch.json" --json "$out/node.json" || rc=1
fi
variant() { # variant RUNTIME FILE LABEL FLAGS...: glocal alone, no stage steps
  local rt=$1 file=$2 label=$3; shift 3
  $rt dist/bench/model.js --no-tfjs --no-torch --no-ort --no-stages --label "$label" --json "$out/$file" "$@" || rc=1
}
if [[ $parts == *" variants "* ]]; then
  variant node node-submit0.json 'node, one submit per step' --submit-every 0
  variant node node-submit16.json 'node, submit every 16' --submit-every 16
  tiles=${TILES:-$out/tiles.json}
  [ -f "$tiles" ] && variant node node-tiles.json 'node, swept tiles' --tiles "$tiles"
fi
if [[ $parts == *" convs "* ]]; then
  variant node node-thin-direct.json 'node, thin convs direct' --conv thin-direct
  variant node node-gemm-wgrad.json 'node, thin convs direct but their weight gradients' --conv gemm-wgrad
fi
if [[ $parts == *" splitk "* ]]; then
  variant node node-no-split.json 'node, no split-K at inference' --row-split 0
fi
if [[ $parts == *" deno "* ]]; then
  if [[ $parts != *" node "* ]]; then
    node dist/bench/model.js --no-tfjs --no-torch --label 'node, deno call' --json "$out/node-rerun.json" || rc=1
  fi
  deno run -A dist/bench/model.js --no-tfjs --no-torch --no-ort --profile --json "$out/deno.json" || rc=1
  [[ $parts == *" variants "* ]] && variant 'deno run -A' deno-submit0.json 'deno, one submit per step' --submit-every 0
  [[ $parts == *" convs "* ]] && variant 'deno run -A' deno-thin-direct.json 'deno, thin convs direct' --conv thin-direct
fi
if [[ $parts == *" tiles "* ]]; then
  node dist/bench/tiles.js --max-s "${TILES_MAX_S:-200}" --json "$out/tiles.json" || rc=1
  node dist/bench/model.js --no-tfjs --no-torch --no-ort --no-stages --profile --tiles "$out/tiles.json" --label 'node, swept tiles' \
    --json "$out/node-tiles.json" || rc=1
fi
if [[ $parts == *" kernels "* ]]; then
  node dist/bench/kernels.js --no-write || rc=1
fi
exit $rc
