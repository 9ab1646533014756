#!/usr/bin/env bash
# docs/cli.md against the --help of the binaries just built (scripts/cli_reference.sh writes it).
# Usage: cli_reference_test.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
root=$2
now=$(mktemp)
trap 'rm -f "$now" "$now.doc"' EXIT
bash "$root/scripts/cli_reference.sh" "$build" >"$now" || { echo "FAIL: scripts/cli_reference.sh failed"; exit 1; }
cp "$root/docs/cli.md" "$now.doc"
if [ ! -x "$build/kernels/bench/attn-bench" ]; then  # a build without benchmarks: compare the rest
  sed -i '/^## attn-bench$/,$d' "$now.doc"
fi
if ! diff -u "$now.doc" "$now"; then
  echo "FAIL: docs/cli.md does not match the binaries' --help; regenerate it with"
  echo "  scripts/cli_reference.sh $build > docs/cli.md"
  exit 1
fi
echo "docs/cli.md matches the --help of every subcommand"
