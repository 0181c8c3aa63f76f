#!/usr/bin/env bash
# Here, before a GPU-machine call: put the part of onnxruntime-web that the model benchmark loads in Node (the wasm
# and webgpu EPs' modules and their .wasm) into .dev/ort.tar.xz, so that bench/device.sh can lay it in
# node_modules there and measure the webgpu EP on the GPU. Run after ../shared/device/pack.sh (which makes .dev).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
d=node_modules/onnxruntime-web
[ -f $d/package.json ] || { echo "no $d: run npm ci first" >&2; exit 1; }
mkdir -p .dev
tar -cJf .dev/ort.tar.xz $d/package.json $d/dist/ort.node.min.mjs $d/dist/ort-wasm-simd-threaded.mjs \
  $d/dist/ort-wasm-simd-threaded.wasm $d/dist/ort.webgpu.bundle.min.mjs $d/dist/ort-wasm-simd-threaded.asyncify.mjs \
  $d/dist/ort-wasm-simd-threaded.asyncify.wasm node_modules/onnxruntime-common
du -h .dev/ort.tar.xz
