"""The reference workflow's TensorFlow commands, as written, on the committed TensorFlow
fixtures: the benchmark on a frozen graph, the TF-TRT converter flags on a SavedModel
(into a zero-padded version folder), serving the result with TF Serving's flags, the load
balancer's health check, and a predict call carrying an RGB image as nested lists."""
import json
import pathlib
import urllib.request

import numpy as np

from kiln_server_harness import Server

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tf" / "fixtures" / "convnet_nhwc"
SAMPLE = pathlib.Path(__file__).resolve().parents[2] / "data" / "images" / "sample.jpg"


def test_benchmark_command_on_a_frozen_graph(kiln, tmp_path):
    out = tmp_path / "bench"
    proc = kiln("bench", f"--frozen_graph={FIXTURES / 'frozen.pb'}", f"--image_file={SAMPLE}", "--native", "--fp32",
                "--fp16", "--int8", f"--output_dir={out}", "--num_loops=5", "--device", "cpu", check=True)
    results = json.loads((out / "results.json").read_text())
    modes = {m["mode"]: m for m in results["modes"]}
    assert set(modes) == {"native", "fp32", "fp16", "int8"}
    assert modes["native"]["throughput"] > 0 and len(modes["native"]["top5"]) == 5
    assert modes["fp16"]["status"].startswith("skipped")  # no GPU here: said, not hidden
    assert (out / "log.txt").read_text().count("==") >= 4
    assert "native" in proc.stdout


def test_convert_serve_health_check_and_predict(kiln, tmp_path):
    base = tmp_path / "resnet_v2_fp32_NCHW"
    kiln("build", f"--input_model_dir={FIXTURES / 'saved_model'}", f"--output_model_dir={base / '00001'}",
         "--batch_size=8", "--precision_mode=FP32", "--device", "cpu", check=True)
    assert (base / "00001" / "model.plan").is_file()
    with Server(base, model_name="default") as server:
        with urllib.request.urlopen(server.url + "/v1/models/default") as r:  # the health check
            status = json.loads(r.read())
        assert status["model_version_status"][0] == {"version": "1", "state": "AVAILABLE",
                                                     "status": {"error_code": "OK", "error_message": ""}}
        rng = np.random.default_rng(1)
        image = rng.integers(0, 256, (240, 240, 3)).tolist()  # as the workflow's client sends it
        request = urllib.request.Request(server.url + "/v1/models/default:predict",
                                         data=json.dumps({"instances": [image]}).encode(), method="POST")
        with urllib.request.urlopen(request) as r:
            body = json.loads(r.read())
    prediction = body["predictions"][0]
    assert len(prediction["probabilities"]) == 10
    assert abs(sum(prediction["probabilities"]) - 1) < 1e-4
    assert prediction["classes"] == int(np.argmax(prediction["probabilities"]))
    assert server.returncode == 0
