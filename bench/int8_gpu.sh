#!/usr/bin/env bash
# Runs on the GPU machine: the INT8 tests (test_int8, GPU cases included) and the zoo
# ResNet-50 FP16 vs INT8 measurement at batch 256 with INT8/FP32 agreement on photos.
# Writes logs and int8_bench.json to OUT_DIR.
#   usage: bench/int8_gpu.sh DIR_WITH_test_int8_device-libs_photos OUT_DIR
set -uo pipefail
dir=${1:?folder with test_int8, device-libs/ and photos/}; out=${2:?output dir}
mkdir -p "$out"
export LD_LIBRARY_PATH=$PWD/$dir/device-libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "card: $card, $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee "$out/card.txt"
timeout "${TEST_TIMEOUT:-90}" "$dir/test_int8" --gtest_brief=1 2>&1 | tee "$out/test_int8.log" | tail -40
KILN_INT8_PHOTOS=$PWD/$dir/photos KILN_BENCH_OUT="$out/int8_bench.json" timeout "${BENCH_TIMEOUT:-150}" \
  "$dir/test_int8" --gtest_also_run_disabled_tests --gtest_filter='Int8ResNet50.*' 2>&1 | tee "$out/int8_bench.log" | tail -30
