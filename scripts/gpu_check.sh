#!/usr/bin/env bash
# On a CUDA machine with PyTorch 2.11 in python3 and the C++ libraries installed (the H100
# image): configure with CUDA, build, run every test (the `gpu` label included), the self-test
# on CUDA, and record the fixtures. Logs and fixtures go to OUT_DIR.
# Usage: scripts/gpu_check.sh OUT_DIR [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
build=${2:-$root/build-gpu}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
start=$(date +%s)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTN_PYTHON=python3 \
  -DATTN_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" \
  >"$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" >"$out/build.log" 2>&1 || { grep -E 'error|FAILED' -A3 "$out/build.log" | head -60; exit 1; }
echo "configure + build: $(( $(date +%s) - start )) s"
ctest --test-dir "$build" --output-on-failure -j 4 >"$out/ctest.log" 2>&1
echo "ctest rc=$?"; grep -E 'tests passed|tests failed|\*\*\*Failed|Not Run|SKIP' "$out/ctest.log" | head -40
"$build/kernels/tests/kernels_gpu_tests" >"$out/kernels_gpu_tests.log" 2>&1; echo "kernels_gpu_tests rc=$?"
"$build/attn-harness" selftest --device cuda >"$out/selftest_cuda.txt" 2>&1; echo "selftest cuda rc=$?"
bash "$root/scripts/record_fixtures.sh" "$build" "$out/fixtures" >"$out/fixtures.log" 2>&1; echo "fixtures rc=$?"
tail -5 "$out/fixtures.log"
