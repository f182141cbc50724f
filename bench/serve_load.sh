#!/usr/bin/env bash
# Serving throughput on every GPU of the machine: `kiln serve --gpus all` with an fp16 plan,
# `kiln loadgen` on the same host over the KServe binary tensor path (closed loop, to find
# the peak) and then open loop at 50 % and 90 % of that peak (p50/p99), plus the TF Serving
# JPEG path; `kiln bench` at the server's batch size on one GPU for comparison.
# IMAGE_INPUT=1 builds the plan with --image-input (uint8 pixels in, normalization on the
# GPU); INSTANCES sets --instances-per-gpu (default 1).
#   usage: [IMAGE_INPUT=1] [INSTANCES=N] bench/serve_load.sh CARRY_DIR OUT_DIR
set -uo pipefail
carry=${1:?dir with kiln and device-libs}; out=${2:?output dir}
mkdir -p "$out"
export LD_LIBRARY_PATH=$PWD/$carry/device-libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KILN_DATA_DIR=$PWD/data
kiln=$PWD/$carry/kiln
work=$(mktemp -d)
gpus=$(nvidia-smi -L | wc -l)
nvidia-smi -L
"$kiln" zoo resnet50 --out "$work/resnet50.onnx" >/dev/null
image_flag=""; [ "${IMAGE_INPUT:-0}" = 1 ] && image_flag="--image-input"
timeout 120 "$kiln" build --input-model "$work/resnet50.onnx" --output-model "$work/models/default/1" \
  --precision fp16 --batch-size 64 --device cuda:0 --timing-cache "$work/tc" $image_flag 2>&1 | tail -3
timeout 90 "$kiln" bench "$work/models/default/1/model.plan" --image data/images/sample.jpg --fp16 --batch-size 64 \
  --duration 2 --device cuda:0 --output-dir "$out/bench_b64" 2>&1 | grep -E "^fp16|throughput"
"$kiln" serve --model-base-path "$work/models/default" --rest-api-port 8888 --gpus all --instances-per-gpu "${INSTANCES:-1}" --max-batch-size 64 \
  --batch-timeout-micros 1000 --max-body-bytes 268435456 > "$out/serve.log" 2>&1 &
server=$!
for _ in $(seq 120); do curl -sf localhost:8888/v1/models/default >/dev/null && break; sleep 1; done
peak_json="$out/loadgen_peak.json"
timeout 60 "$kiln" loadgen --url http://localhost:8888 --protocol kserve --payload binary --batch 16 \
  --concurrency "${PEAK_CONCURRENCY:-$((12 * gpus))}" --duration 10 --warmup 2 --output-json "$peak_json" 2>&1 | tail -4
peak=$(python3 -c "import json;print(json.load(open('$peak_json'))['throughput']['requests_per_s'])")
for pct in 50 90; do
  rate=$(python3 -c "print(round($peak * $pct / 100, 1))")
  echo "open loop at $pct % of peak: $rate requests/s (batch 16)"
  timeout 60 "$kiln" loadgen --url http://localhost:8888 --protocol kserve --payload binary --batch 16 \
    --request-rate "$rate" --distribution poisson --max-connections 64 --duration 10 --warmup 2 \
    --output-json "$out/loadgen_rate$pct.json" 2>&1 | tail -3
done
timeout 60 "$kiln" loadgen --url http://localhost:8888 --protocol tfserving --payload jpeg --concurrency 64 \
  --duration 10 --warmup 2 --output-json "$out/loadgen_jpeg.json" 2>&1 | tail -3
curl -s localhost:8888/metrics | grep -E "^kiln_gpu_utilization|^kiln_batch_size_(sum|count)" | head -8
kill -TERM $server
for _ in $(seq 30); do kill -0 $server 2>/dev/null || break; sleep 1; done
kill -0 $server 2>/dev/null && kill -9 $server
wait $server; echo "serve exit code after SIGTERM: $?"
rm -rf "$work"
