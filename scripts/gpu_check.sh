#!/usr/bin/env bash
# On a CUDA machine with PyTorch 2.11 in python3 and the C++ libraries installed (the H200
# image): configure with CUDA, build, run every test (the `gpu` label included), the self-test
# on CUDA, and (with RECORD_FIXTURES=1) record the fixtures. Logs and fixtures go to OUT_DIR.
# Usage: scripts/gpu_check.sh OUT_DIR [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
build=${2:-$root/build-gpu}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
bash "$root/scripts/build_cuda.sh" "$build" "$out" || exit 1
ctest --test-dir "$build" --output-on-failure -j 4 >"$out/ctest.log" 2>&1
echo "ctest rc=$?"; grep -E 'tests passed|tests failed|\*\*\*Failed|Not Run|SKIP' "$out/ctest.log" | head -40
"$build/kernels/tests/kernels_gpu_tests" >"$out/kernels_gpu_tests.log" 2>&1; echo "kernels_gpu_tests rc=$?"
"$build/attn-harness" selftest --device cuda >"$out/selftest_cuda.txt" 2>&1; echo "selftest cuda rc=$?"
if [ "${RECORD_FIXTURES:-0}" = 1 ]; then
  bash "$root/scripts/record_fixtures.sh" "$build" "$out/fixtures" >"$out/fixtures.log" 2>&1; echo "fixtures rc=$?"
  tail -5 "$out/fixtures.log"
fi
