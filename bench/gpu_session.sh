#!/usr/bin/env bash
# Checks the product on the GPU machine, in sections (all by default; SECTIONS="tests serve"
# picks some), writing logs and JSON under OUT_DIR:
#   tests       the CUDA, INT8 and burn test suites (KILN_PRETRAINED_DIR=CARRY/pretrained if present)
#   bench       `kiln bench` on the zoo ResNet-50 in every mode at batch 256 and 1, and the
#               PyTorch baseline in the same call on the same card
#   probe       bench/int8_conv_probe: every INT8 (PROBE_MODE=int8, or all|fp8) convolution family
#               per ResNet-50 layer shape at batch 256, beside cuDNN FP16
#   int8        `kiln bench --fp16 --int8` at batch 256 and 1 with the agreement with FP32,
#               and the PyTorch baseline (eager FP16 channels-last) beside it
#   qdq         the pretrained Q/DQ ShuffleNet-v2: `kiln bench --fp32 --fp16 --int8` on its photos
#               (QDQ_EXTRA=--fp8 adds FP8 with the model's own ranges)
#   build       plan build time (fp16, max batch 256), cold and with a warm timing cache
#   imageinput  an fp16 plan taking uint8 pixels (`kiln build --image-input`) against the
#               float plan: same top-5, end-to-end latency with 4x fewer bytes copied
#   serve       `kiln serve --gpus all` with an fp16 plan; `kiln loadgen` over the KServe binary
#               and TF Serving JSON/JPEG paths, compared with `kiln bench` at the same batch
#   servepixels the same with a uint8-pixel plan (`kiln build --image-input`): UINT8 binary tensors
#               and JPEGs in, normalization on the GPU
#   burn        `kiln burn --gpus all`
#   usage: [SECTIONS=...] [TEST_FILTER=gtest-filter] [INT8_BATCHES="256 1"] [INT8_EXTRA=--fp8] [QDQ_EXTRA=--fp8] [SERVE_INSTANCES=N] [PACK=1] bench/gpu_session.sh CARRY_DIR OUT_DIR
set -uo pipefail
carry=${1:?dir with kiln, test binaries and device-libs}; out=${2:?output dir}
sections=${SECTIONS:-tests bench build imageinput qdq serve burn}
mkdir -p "$out"
export LD_LIBRARY_PATH=$PWD/$carry/device-libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KILN_DATA_DIR=$PWD/data
[ -d "$carry/pretrained" ] && export KILN_PRETRAINED_DIR=$PWD/$carry/pretrained
kiln=$PWD/$carry/kiln
work=$(mktemp -d)
nvidia-smi -L | tee "$out/gpus.txt"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1 > "$out/card.txt"
gpus=$(nvidia-smi -L | wc -l)
"$kiln" zoo resnet50 --out "$work/resnet50.onnx" >/dev/null

step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
want() { [[ " $sections " == *" $1 "* ]]; }
elapsed() { awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $1}"; }

if want tests; then
  step "GPU tests"
  for t in "$carry"/test_cuda "$carry"/test_int8 "$carry"/test_burn; do
    [ -x "$t" ] || continue
    echo "--- $(basename "$t")"
    timeout 300 "$t" --gtest_brief=1 --gtest_filter="${TEST_FILTER:-*}" 2>&1 | tail -25
  done 2>&1 | tee "$out/gpu_tests.log"
fi

if want bench; then
  step "kiln bench, zoo ResNet-50, every mode"
  timeout 300 "$kiln" bench "$work/resnet50.onnx" --image data/images/sample.jpg --native --fp32 --tf32 --fp16 --bf16 \
    --batch-size 256 --duration 1 --warmup 5 --output-dir "$out/bench_b256" 2>&1 | tail -12
  timeout 120 "$kiln" bench "$work/resnet50.onnx" --image data/images/sample.jpg --native --fp16 \
    --batch-size 1 --duration 1 --warmup 20 --output-dir "$out/bench_b1" 2>&1 | tail -6
  step "PyTorch baseline (same card, same call)"
  PYTHONUNBUFFERED=1 timeout 240 python3 bench/pytorch_baseline.py --out "$out/torch.json" --compile-mode none \
    --batches 1,64,256 --seconds 1.0 2>&1 | grep -E "^torch|rror" | tail -20
fi

if want probe && [ -x "$carry/int8_conv_probe" ]; then
  step "INT8 convolution families per layer shape (int8_conv_probe, batch 256)"
  timeout 400 "$carry/int8_conv_probe" "$out/probe.json" 256 "${PROBE_MODE:-int8}" > "$out/probe.log" 2>&1
  echo "probe exit $?"; grep -vE "candidate" "$out/probe.log" | tail -80
fi

if want int8; then
  step "kiln bench --fp16 --int8, zoo ResNet-50 (percentile calibration on data/images)"
  for b in ${INT8_BATCHES:-256 1}; do
    start=$(date +%s.%N)
    timeout 420 "$kiln" bench "$work/resnet50.onnx" --image data/images/sample.jpg --fp16 --int8 ${INT8_EXTRA:-} \
      --calib-data data/images --calibrator percentile --batch-size $b --duration 1 --warmup 5 \
      --output-dir "$out/int8_b$b" > "$out/int8_b$b.log" 2>&1
    echo "batch $b: exit $?, $(elapsed "$start") s"; grep -E "^(fp16|int8|fp8) |vs fp32" "$out/int8_b$b.log"
    grep -E "Int8Conv|Fp8Conv|MaxPool" "$out/int8_b$b.log" > "$out/int8_b${b}_tactics.log"
  done
  step "PyTorch baseline (same card, same call)"
  PYTHONUNBUFFERED=1 timeout 150 python3 bench/pytorch_baseline.py --out "$out/torch.json" --compile-mode none \
    --batches 1,256 --seconds 1.0 2>&1 | grep -E "^torch|rror" | tail -20
fi

if want qdq && [ -n "${KILN_PRETRAINED_DIR:-}" ]; then
  step "pretrained Q/DQ ShuffleNet-v2 on the GPU"
  for img in parrot.jpg cat.bmp grace_hopper.bmp; do
    timeout 240 "$kiln" bench "$KILN_PRETRAINED_DIR/shufflenet-v2-12-qdq.onnx" --image "$KILN_PRETRAINED_DIR/images/$img" \
      --fp32 --fp16 --int8 ${QDQ_EXTRA:-} --labels "$KILN_PRETRAINED_DIR/imagenet_classes_1000.txt" --duration 1 --warmup 10 \
      --output-dir "$out/qdq_$img" > "$out/qdq_$img.log" 2>&1
    echo "$img: exit $?"; grep -E "^(fp32|fp16|int8|fp8) |vs fp32|Q/DQ model" "$out/qdq_$img.log"
  done
fi

if want build; then
  step "plan build time: fp16, max batch 256, cold and then warm timing cache"
  for run in cold warm; do
    start=$(date +%s.%N)
    timeout 200 "$kiln" build --input-model "$work/resnet50.onnx" --output-model "$work/models_$run/default/1" \
      --precision fp16 --batch-size 256 --device cuda:0 --timing-cache "$work/timing.cache" > "$out/build_$run.log" 2>&1
    echo "kiln build ($run timing cache): exit $?, $(elapsed "$start") s"; tail -2 "$out/build_$run.log"
  done
fi

if want imageinput; then
  step "uint8 image input (kiln build --image-input) vs float input, fp16, batch 256"
  for kind in float pixels; do
    flag=""; [ $kind = pixels ] && flag="--image-input"
    timeout 200 "$kiln" build --input-model "$work/resnet50.onnx" --output-model "$work/img_$kind/1" --precision fp16 \
      --batch-size 256 --device cuda:0 --timing-cache "$work/timing.cache" $flag > "$out/build_$kind.log" 2>&1
    grep -E "input " "$out/build_$kind.log"
    timeout 120 "$kiln" bench "$work/img_$kind/1/model.plan" --image data/images/sample.jpg --fp16 --batch-size 256 \
      --duration 2 --output-dir "$out/imageinput_$kind" > "$out/imageinput_$kind.log" 2>&1
    echo "$kind: exit $?"; grep -E "^fp16 |1\. " "$out/imageinput_$kind.log"
  done
fi

if want serve; then
  step "serve on all $gpus GPU(s), loadgen"
  timeout 200 "$kiln" build --input-model "$work/resnet50.onnx" --output-model "$work/models/default/1" \
    --precision fp16 --batch-size 64 --device cuda:0 --timing-cache "$work/timing.cache" > "$out/build_serve.log" 2>&1
  timeout 90 "$kiln" bench "$work/models/default/1/model.plan" --image data/images/sample.jpg --fp16 --batch-size 64 \
    --duration 2 --output-dir "$out/serve_bench_b64" 2>&1 | grep -E "^fp16 "
  "$kiln" serve --model-base-path "$work/models/default" --rest-api-port 8888 --gpus all --instances-per-gpu "${SERVE_INSTANCES:-1}" --max-batch-size 64 \
    --batch-timeout-micros 1000 --max-body-bytes 268435456 > "$out/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 120); do curl -sf localhost:8888/v1/models/default >/dev/null && break; sleep 1; done
  curl -s localhost:8888/v1/models/default | tee "$out/health.json"; echo
  for c in 8 16 32; do
    timeout 60 "$kiln" loadgen --url http://localhost:8888 --protocol kserve --payload binary --batch 16 \
      --concurrency $((c * gpus)) --duration 8 --warmup 2 --output-json "$out/loadgen_kserve_binary_c$c.json" 2>&1 |
      grep -E "Requests|Throughput|Latency|Errors" | head -4
  done
  timeout 60 "$kiln" loadgen --url http://localhost:8888 --protocol tfserving --payload json --batch 8 \
    --concurrency $((8 * gpus)) --duration 8 --warmup 2 --output-json "$out/loadgen_tfserving_json.json" 2>&1 |
    grep -E "Requests|Throughput|Latency|Errors" | head -4
  timeout 60 "$kiln" loadgen --url http://localhost:8888 --protocol tfserving --payload jpeg \
    --concurrency 32 --duration 8 --warmup 2 --output-json "$out/loadgen_tfserving_jpeg.json" 2>&1 |
    grep -E "Requests|Throughput|Latency|Errors" | head -4
  curl -s localhost:8888/metrics | grep -E "^kiln_gpu_utilization|^kiln_requests_total" | head -10
  kill -TERM $server
  for _ in $(seq 30); do kill -0 $server 2>/dev/null || break; sleep 1; done
  kill -0 $server 2>/dev/null && { echo "serve did not exit within 30 s of SIGTERM"; kill -9 $server; }
  wait $server; echo "serve exit code after SIGTERM: $?"
fi

if want servepixels; then
  step "serve a uint8-pixel fp16 plan (kiln build --image-input) on all $gpus GPU(s), loadgen"
  timeout 200 "$kiln" build --input-model "$work/resnet50.onnx" --output-model "$work/pixels/default/1" --image-input \
    --precision fp16 --batch-size 64 --device cuda:0 --timing-cache "$work/timing.cache" > "$out/build_pixels_serve.log" 2>&1
  timeout 90 "$kiln" bench "$work/pixels/default/1/model.plan" --image data/images/sample.jpg --fp16 --batch-size 64 \
    --duration 2 --output-dir "$out/servepixels_bench_b64" 2>&1 | grep -E "^fp16 "
  "$kiln" serve --model-base-path "$work/pixels/default" --rest-api-port 8889 --gpus all --instances-per-gpu "${SERVE_INSTANCES:-1}" --max-batch-size 64 \
    --batch-timeout-micros 1000 --max-body-bytes 268435456 > "$out/serve_pixels.log" 2>&1 &
  server=$!
  for _ in $(seq 120); do curl -sf localhost:8889/v1/models/default >/dev/null && break; sleep 1; done
  for c in 8 16 32; do
    timeout 60 "$kiln" loadgen --url http://localhost:8889 --protocol kserve --payload binary --batch 16 \
      --concurrency $((c * gpus)) --duration 8 --warmup 2 --output-json "$out/loadgen_pixels_binary_c$c.json" 2>&1 |
      grep -E "Requests|Throughput|Latency|Errors" | head -4
  done
  timeout 60 "$kiln" loadgen --url http://localhost:8889 --protocol tfserving --payload jpeg \
    --concurrency 32 --duration 8 --warmup 2 --output-json "$out/loadgen_pixels_jpeg.json" 2>&1 |
    grep -E "Requests|Throughput|Latency|Errors" | head -4
  curl -s localhost:8889/metrics | grep -E "^kiln_gpu_utilization" | head -4
  kill -TERM $server; wait $server; echo "serve exit code after SIGTERM: $?"
fi

if want burn; then
  step "kiln burn --gpus all"
  timeout 60 "$kiln" burn --gpus all --seconds 20 --report-interval 5 2>&1 | tee "$out/burn.log" | tail -12
  echo "burn exit code: ${PIPESTATUS[0]}"
fi
rm -rf "$work"
# PACK=1: one archive instead of many files (the device tool returns a limited number).
if [ "${PACK:-0}" = 1 ]; then
  tar -czf "$out.tgz" -C "$(dirname "$out")" "$(basename "$out")" && rm -rf "$out"
fi
