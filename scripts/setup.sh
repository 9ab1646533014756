#!/usr/bin/env bash
# Installs what attn-harness needs on Debian 12, reusing whatever is already there, then
# configures and builds into ./build (or $ATTN_BUILD_DIR). Non-interactive and idempotent.
#
#   ATTN_VENV        virtual environment holding the torch==2.11.0 wheel
#                    (default ~/.cache/attn-harness/venv; kept between runs)
#   ATTN_PYTHON      use this Python's torch instead of the venv (e.g. the GPU image's python3)
#   ATTN_BUILD_DIR   build folder (default ./build)
#   ATTN_CMAKE_ARGS  extra CMake arguments (e.g. -DATTN_WITH_CUDA=OFF)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ATTN_BUILD_DIR:-$root/build}
venv=${ATTN_VENV:-$HOME/.cache/attn-harness/venv}
torch_version=2.11.0
say() { printf '[setup] %s\n' "$*" >&2; }

# 1. Debian packages (skipped when all are installed, e.g. on the GPU image); gnuplot draws the
#    report's charts, procps's pgrep lets calibrate_budgets.sh stop the steps it started. The
#    optional ones (the report's rendering test) only warn when they
#    cannot be installed.
packages=(build-essential cmake ninja-build git pkg-config libeigen3-dev libhdf5-dev hdf5-tools
          libcli11-dev libbenchmark-dev libgtest-dev nlohmann-json3-dev python3-venv python3-pip
          python3-dev python3-h5py python3-numpy python3-xxhash python3-pytest gnuplot-nox procps)
optional_packages=(fonts-dejavu-core chromium)
missing_of() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}
if command -v dpkg-query >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  missing=($(missing_of "${packages[@]}"))
  missing_optional=($(missing_of "${optional_packages[@]}"))
  if [ $(( ${#missing[@]} + ${#missing_optional[@]} )) -gt 0 ]; then
    $sudo apt-get update -qq || say "apt-get update failed"
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ ${#missing_optional[@]} -gt 0 ]; then
    say "installing optional Debian packages: ${missing_optional[*]}"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing_optional[@]}" >/dev/null \
      || say "warning: could not install ${missing_optional[*]}: report charts and their render test will be skipped"
  fi
fi

# 2. LibTorch from the torch wheel on PyPI, in a virtual environment that sees Debian's h5py.
if [ -n "${ATTN_PYTHON:-}" ]; then
  python=$ATTN_PYTHON
else
  python=$venv/bin/python
  if ! "$python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$torch_version' else 1)" 2>/dev/null; then
    say "installing torch==$torch_version into $venv (one-time download)"
    base_python=/usr/bin/python3; [ -x "$base_python" ] || base_python=python3
    "$base_python" -m venv --system-site-packages "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "torch==$torch_version"
  fi
fi
say "torch $("$python" -c 'import torch; print(torch.__version__)') from $python"

# 3. Configure and build.
# The CUDA code is compiled and linked wherever nvcc is (CI included, without a GPU), so that a
# GPU build break fails there too.
cuda_args=(-DATTN_WITH_CUDA=OFF)
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ]; then
  cuda_args=(-DATTN_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc")
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTN_PYTHON="$python" \
  "${cuda_args[@]}" ${ATTN_CMAKE_ARGS:-} >"$build.configure.log" 2>&1 \
  || { cat "$build.configure.log" >&2; exit 1; }
say "building in $build"
cmake --build "$build" -j "$(nproc)"
