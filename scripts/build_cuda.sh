#!/usr/bin/env bash
# Configures and builds the tree with CUDA on a GPU machine (the H200 image: PyTorch 2.11 in
# python3, the C++ libraries installed). Logs go to LOG_DIR; on failure the errors are printed.
# Usage: scripts/build_cuda.sh BUILD_DIR LOG_DIR
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$1
logs=$2
mkdir -p "$logs"
start=$(date +%s)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTN_PYTHON=python3 \
  -DATTN_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" \
  >"$logs/configure.log" 2>&1 || { tail -40 "$logs/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" >"$logs/build.log" 2>&1 ||
  { grep -E 'error|FAILED' -A3 "$logs/build.log" | head -60; exit 1; }
echo "configure + build: $(( $(date +%s) - start )) s" >&2
