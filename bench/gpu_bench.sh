#!/usr/bin/env bash
# Runs on the GPU machine: every CUDA test, the kiln ResNet-50 benchmark (native, fp32,
# tf32, fp16, bf16 at batch 1, 8, 64, 256) and the PyTorch baseline on the same card, and
# writes one JSON (card, driver, date, command, all figures) to OUT_DIR; then a per-op GPU
# time profile of fp16 at batch 256 (KILN_PROFILE=1) into OUT_DIR/profile_fp16.log.
#   usage: bench/gpu_bench.sh BUILD_DIR OUT_DIR
# Environment: BENCH_SECONDS (timing window per measurement, default 1.5),
# TORCH_COMPILE_MODE (max-autotune, default, or none to skip torch.compile), *_TIMEOUT.
set -uo pipefail
build=${1:?build dir}; out=${2:?output dir}
mkdir -p "$out"
export LD_LIBRARY_PATH=$PWD/$build/device-libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
date=$(date -u +%Y-%m-%d)
slug=$(echo "$card" | tr ' ' '-' | tr -cd 'A-Za-z0-9-')
echo "card: $card, driver $driver, $date"

timeout "${TEST_TIMEOUT:-200}" "$build/test_cuda" --gtest_brief=1 2>&1 | tee "$out/test_cuda.log" | tail -40
export KILN_BENCH_SECONDS=${BENCH_SECONDS:-1.5}
KILN_BENCH_OUT="$out/kiln_bench.json" timeout "${BENCH_TIMEOUT:-170}" "$build/test_cuda" --gtest_also_run_disabled_tests \
  --gtest_filter='CudaZoo.DISABLED_Benchmark' 2>&1 | tee "$out/kiln_bench.log" | grep -E "^kiln|FAIL|rror"
# Reuses the benchmark's timing cache, so the fp16 engine builds without timing again.
KILN_PROFILE=1 KILN_BENCH_OUT="$out/kiln_bench.json" timeout "${PROFILE_TIMEOUT:-60}" "$build/test_cuda" \
  --gtest_also_run_disabled_tests --gtest_filter='CudaZoo.DISABLED_Profile' > "$out/profile_fp16.log" 2>&1
grep -A45 "^kiln profile: batch 256" "$out/profile_fp16.log" | head -50
PYTHONUNBUFFERED=1 timeout "${TORCH_TIMEOUT:-300}" python3 bench/pytorch_baseline.py --out "$out/torch.json" \
  --compile-timeout "${TORCH_COMPILE_TIMEOUT:-150}" --compile-mode "${TORCH_COMPILE_MODE:-max-autotune}" \
  --seconds "${BENCH_SECONDS:-1.5}" 2>&1 | tee "$out/torch.log" | grep -E "^torch|rror"

python3 - "$out" "$card" "$driver" "$date" "$slug" <<'PY'
import json, os, sys
out, card, driver, date, slug = sys.argv[1:]
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else {"error": f"{name} missing"}
doc = {"card": card, "driver": driver, "date": date,
       "command": "bench/gpu_bench.sh (test_cuda CudaZoo.DISABLED_Benchmark + bench/pytorch_baseline.py)",
       "model": "zoo resnet50 (v1.5, synthetic weights) / torchvision resnet50 (random weights), 224x224",
       "kiln": load("kiln_bench.json").get("kiln"), "pytorch": load("torch.json")}
path = os.path.join(out, f"{date}-{slug}.json")
json.dump(doc, open(path, "w"), indent=2)
print("wrote", path)
PY
