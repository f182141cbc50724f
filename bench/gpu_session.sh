#!/usr/bin/env bash
# One GPU-machine session that checks the whole product on every GPU of the machine:
#   1. the CUDA and burn test suites;
#   2. `kiln bench` (the CLI users run) on the zoo ResNet-50 in every mode at batch 256 and 1,
#      with the PyTorch baseline measured in the same call on the same card;
#   3. `kiln build` an fp16 plan, `kiln serve --gpus all`, and `kiln loadgen` over the KServe
#      binary path and the TF Serving JPEG path, compared with `kiln bench` at the same batch;
#   4. `kiln burn --gpus all`.
# Logs and JSON go to OUT_DIR.   usage: bench/gpu_session.sh CARRY_DIR OUT_DIR
set -uo pipefail
carry=${1:?dir with kiln, test binaries and device-libs}; out=${2:?output dir}
mkdir -p "$out"
export LD_LIBRARY_PATH=$PWD/$carry/device-libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KILN_DATA_DIR=$PWD/data
kiln=$PWD/$carry/kiln
work=$(mktemp -d)
nvidia-smi -L | tee "$out/gpus.txt"
gpus=$(nvidia-smi -L | wc -l)

step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step "GPU tests"
for t in "$carry"/test_cuda "$carry"/test_burn "$carry"/test_int8; do
  [ -x "$t" ] && timeout 240 "$t" --gtest_brief=1 2>&1 | tail -15
done 2>&1 | tee "$out/gpu_tests.log"

step "kiln bench, zoo ResNet-50"
"$kiln" zoo resnet50 --out "$work/resnet50.onnx" >/dev/null
timeout 300 "$kiln" bench "$work/resnet50.onnx" --image data/images/sample.jpg --native --fp32 --tf32 --fp16 --bf16 \
  --int8 --calib-data data/images --batch-size 256 --duration 1 --warmup 5 --output-dir "$out/bench_b256" 2>&1 |
  tail -30
timeout 120 "$kiln" bench "$work/resnet50.onnx" --image data/images/sample.jpg --native --fp16 --int8 \
  --calib-data data/images --batch-size 1 --duration 1 --warmup 20 --output-dir "$out/bench_b1" 2>&1 | tail -14
timeout 120 "$kiln" bench "$work/resnet50.onnx" --image data/images/sample.jpg --fp16 --batch-size 64 --duration 1 \
  --output-dir "$out/bench_b64" 2>&1 | tail -6

step "PyTorch baseline (same card, same call)"
PYTHONUNBUFFERED=1 timeout 240 python3 bench/pytorch_baseline.py --out "$out/torch.json" --compile-mode none \
  --batches 1,64,256 --seconds 1.0 2>&1 | grep -E "^torch|rror" | tail -20

step "plan build time: fp16, max batch 256, cold and then warm timing cache"
for run in cold warm; do
  start=$(date +%s.%N)
  timeout 200 "$kiln" build --input-model "$work/resnet50.onnx" --output-model "$work/models_$run/default/1" \
    --precision fp16 --batch-size 256 --device cuda:0 --timing-cache "$work/timing.cache" > "$out/build_$run.log" 2>&1
  rc=$?; echo "kiln build ($run timing cache): exit $rc, $(awk "BEGIN{print $(date +%s.%N) - $start}") s"
  tail -2 "$out/build_$run.log"
done
mv "$work/models_warm" "$work/models"

step "serve on all $gpus GPU(s), loadgen"
"$kiln" serve --model-base-path "$work/models/default" --rest-api-port 8888 --gpus all --max-batch-size 64 \
  --batch-timeout-micros 2000 --max-body-bytes 268435456 > "$out/serve.log" 2>&1 &
server=$!
for _ in $(seq 120); do curl -sf localhost:8888/v1/models/default >/dev/null && break; sleep 1; done
curl -s localhost:8888/v1/models/default | tee "$out/health.json"; echo
timeout 60 "$kiln" loadgen --url http://localhost:8888 --protocol kserve --payload binary --batch 16 \
  --concurrency $((8 * gpus)) --duration 10 --warmup 2 --output-json "$out/loadgen_kserve_binary.json" 2>&1 | tail -12
timeout 60 "$kiln" loadgen --url http://localhost:8888 --protocol tfserving --payload jpeg \
  --concurrency 32 --duration 10 --warmup 2 --output-json "$out/loadgen_tfserving_jpeg.json" 2>&1 | tail -12
curl -s localhost:8888/metrics | grep -E "^kiln_gpu_utilization|^kiln_requests_total" | head -10
kill -TERM $server
for _ in $(seq 30); do kill -0 $server 2>/dev/null || break; sleep 1; done
kill -0 $server 2>/dev/null && { echo "serve did not exit within 30 s of SIGTERM"; kill -9 $server; }
wait $server; echo "serve exit code after SIGTERM: $?"

step "kiln burn --gpus all"
timeout 60 "$kiln" burn --gpus all --seconds 20 --report-interval 5 2>&1 | tee "$out/burn.log" | tail -12
echo "burn exit code: ${PIPESTATUS[0]}"
rm -rf "$work"
