#!/usr/bin/env bash
# Host-side cost of serving, with compute taken out: `kiln serve` on the CPU with a model
# that only averages its input (f32 [N,3,224,224] -> GlobalAveragePool -> [N,3]), loaded
# by `kiln loadgen` over loopback. What is left is HTTP reading, parsing, copies, batching
# and responses: the path that limits GPU serving when the engine is fast.
#   usage: bench/serve_host_path.sh KILN_BINARY OUT_DIR [BATCH] [CONCURRENCY] [DURATION]
# Writes OUT_DIR/{kserve_binary,tfserving_json}.json (loadgen reports) and prints img/s
# and MB/s of request bodies for each.
set -euo pipefail
kiln=$(realpath "${1:?kiln binary}"); out=${2:?output dir}
batch=${3:-16}; concurrency=${4:-8}; duration=${5:-10}
mkdir -p "$out"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$work/models/1/model.onnx" <<'EOF'
import pathlib, sys
from onnx import TensorProto, helper, save
nodes = [helper.make_node("GlobalAveragePool", ["input"], ["p"]),
         helper.make_node("Flatten", ["p"], ["mean"], axis=1)]
graph = helper.make_graph(nodes, "host_path",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
                          [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N", 3])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
pathlib.Path(sys.argv[1]).parent.mkdir(parents=True)
save(model, sys.argv[1])
EOF
port=$((20000 + RANDOM % 20000))
"$kiln" serve --model-base-path "$work/models" --rest-api-port $port --max-batch-size 64 \
  --batch-timeout-micros 1000 --max-body-bytes 268435456 >"$out/serve.log" 2>&1 &
server=$!
for _ in $(seq 60); do curl -sf "localhost:$port/v1/models/default" >/dev/null && break; sleep 0.5; done
for run in kserve:binary tfserving:json; do
  set -- "${run%%:*}" "${run##*:}"
  "$kiln" loadgen --url "http://localhost:$port" --protocol "$1" --payload "$2" --batch "$batch" \
    --concurrency "$concurrency" --duration "$duration" --warmup 2 --output-json "$out/${1}_$2.json" >"$out/${1}_$2.txt"
  head -1 "$out/${1}_$2.txt"  # names the bytes per request
  python3 - "$out/${1}_$2.json" "$1 $2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
img = r["throughput"]["images_per_s"]
failed = r["requests"]["failed"]
# Tensor bytes per image (f32 3x224x224); JSON bodies are ~9 bytes per value instead.
print(f"{sys.argv[2]:15s} {img:8.1f} img/s  {img * 3 * 224 * 224 * 4 / 1e6:7.1f} MB/s of tensor data  "
      f"p50 {r['latency_ms']['p50']:.1f} ms  failed {failed}")
EOF
done
