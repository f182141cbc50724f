"""`kiln serve` end to end: the exact JSON of every TF Serving REST and KServe v2 endpoint,
b64 images, binary tensors and metrics, against a real server process on the CPU."""
import base64
import json
import struct

import numpy as np
import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("onnx")

from kiln_server_harness import (IMAGE_SIZE, Server, image_model, kiln_bin, png_bytes, scale_model, scale_oracle,
                                 write_version)

SCALE = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not kiln_bin().is_file():
        pytest.skip(f"kiln binary not found at {kiln_bin()} (set KILN_BIN)")
    base = tmp_path_factory.mktemp("models")
    write_version(base / "m", 1, scale_model(SCALE))
    write_version(base / "img", 1, image_model())
    config = tmp_path_factory.mktemp("cfg") / "models.json"
    config.write_text(json.dumps([
        {"name": "m", "base_path": str(base / "m"), "version_labels": {"stable": 1}},
        {"name": "img", "base_path": str(base / "img"), "max_batch_size": 4},
    ]))
    with Server(None, "--model-config-file", config, "--batch-timeout-micros", 500) as s:
        yield s
    assert s.returncode == 0, s.log


def rng_rows(n, seed):
    return np.random.default_rng(seed).uniform(-5, 5, size=(n, 4)).astype(np.float32)


def test_model_status_exact(server):
    expected = {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    for path in ["/v1/models/m", "/v1/models/m/versions/1", "/v1/models/m/labels/stable"]:
        r = requests.get(server.url + path)
        assert r.status_code == 200, r.text
        assert r.json() == expected


def test_metadata_exact(server):
    r = requests.get(server.url + "/v1/models/m/metadata")
    assert r.status_code == 200
    dims = lambda *d: {"dim": [{"size": str(x), "name": ""} for x in d], "unknown_rank": False}
    assert r.json() == {
        "model_spec": {"name": "m", "signature_name": "", "version": "1"},
        "metadata": {"signature_def": {"signature_def": {"serving_default": {
            "inputs": {"x": {"dtype": "DT_FLOAT", "tensor_shape": dims(-1, 4), "name": "x"}},
            "outputs": {"y": {"dtype": "DT_FLOAT", "tensor_shape": dims(-1, 4), "name": "y"},
                        "s": {"dtype": "DT_FLOAT", "tensor_shape": dims(-1, 1), "name": "s"}},
            "method_name": "tensorflow/serving/predict"}}}}}


def test_predict_row_and_columnar(server):
    x = rng_rows(3, 1)
    y, s = scale_oracle(x, SCALE)
    r = requests.post(server.url + "/v1/models/m:predict", json={"instances": x.tolist()})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert len(preds) == 3 and set(preds[0]) == {"y", "s"}
    np.testing.assert_allclose([p["y"] for p in preds], y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose([p["s"] for p in preds], s, rtol=1e-5, atol=1e-4)

    r = requests.post(server.url + "/v1/models/m/versions/1:predict",
                      json={"signature_name": "serving_default", "inputs": {"x": x.tolist()}})
    assert r.status_code == 200, r.text
    out = r.json()["outputs"]
    np.testing.assert_allclose(out["y"], y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["s"], s, rtol=1e-5, atol=1e-4)

    r = requests.post(server.url + "/v1/models/m/labels/stable:predict", json={"inputs": x.tolist()})
    assert r.status_code == 200
    np.testing.assert_allclose(r.json()["outputs"]["y"], y, rtol=1e-5, atol=1e-5)

    named = [{"x": row} for row in x.tolist()]
    r = requests.post(server.url + "/v1/models/m:predict", json={"instances": named})
    np.testing.assert_allclose([p["y"] for p in r.json()["predictions"]], y, rtol=1e-5, atol=1e-5)


def test_classify_and_regress_have_no_signature(server):
    for verb in ["classify", "regress"]:
        r = requests.post(server.url + f"/v1/models/m:{verb}", json={"examples": [{"x": 1}]})
        assert r.status_code == 400
        assert "signature" in r.json()["error"]


def test_image_b64_and_pixel_lists(server):
    colours = [(255, 0, 0), (10, 200, 30), (0, 128, 255)]
    instances = [{"b64": base64.b64encode(png_bytes(24, 20, c)).decode()} for c in colours]
    r = requests.post(server.url + "/v1/models/img:predict", json={"instances": instances})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["predictions"], np.array(colours) / 255.0, atol=2e-3)

    # An H x W x 3 list of 0..255 values is resized and normalized like an image.
    pixels = np.zeros((20, 20, 3), np.int32) + np.array([60, 90, 120])
    r = requests.post(server.url + "/v1/models/img:predict", json={"instances": [pixels.tolist()]})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["predictions"][0], np.array([60, 90, 120]) / 255.0, atol=2e-3)

    # A row already in the model's layout passes through untouched.
    row = np.random.default_rng(5).uniform(0, 1, (3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    r = requests.post(server.url + "/v1/models/img:predict", json={"instances": [row.tolist()]})
    np.testing.assert_allclose(r.json()["predictions"][0], row.mean(axis=(1, 2)), rtol=1e-5)


def test_kserve_server_and_health(server):
    r = requests.get(server.url + "/v2")
    assert r.status_code == 200 and r.json()["name"] == "kiln" and "binary_tensor_data" in r.json()["extensions"]
    assert requests.get(server.url + "/v2/health/live").status_code == 200
    r = requests.get(server.url + "/v2/health/ready")
    assert r.status_code == 200 and r.json() == {"ready": True}
    r = requests.get(server.url + "/v2/models/m/ready")
    assert r.status_code == 200 and r.json() == {"name": "m", "ready": True}
    assert requests.get(server.url + "/v2/models/m/versions/9/ready").status_code == 404
    assert requests.get(server.url + "/v2/models/nope/ready").status_code == 404


def test_kserve_model_metadata_exact(server):
    expected = {"name": "m", "versions": ["1"], "platform": "kiln",
                "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
                "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 4]},
                            {"name": "s", "datatype": "FP32", "shape": [-1, 1]}]}
    for path in ["/v2/models/m", "/v2/models/m/versions/1"]:
        r = requests.get(server.url + path)
        assert r.status_code == 200, r.text
        assert r.json() == expected


def test_kserve_infer_json(server):
    x = rng_rows(2, 7)
    y, s = scale_oracle(x, SCALE)
    body = {"id": "abc", "inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32",
                                     "data": x.flatten().tolist()}]}
    r = requests.post(server.url + "/v2/models/m/infer", json=body)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["model_name"] == "m" and j["model_version"] == "1" and j["id"] == "abc"
    outs = {o["name"]: o for o in j["outputs"]}
    assert outs["y"]["datatype"] == "FP32" and outs["y"]["shape"] == [2, 4]
    np.testing.assert_allclose(np.array(outs["y"]["data"]).reshape(2, 4), y, rtol=1e-5, atol=1e-5)
    assert outs["s"]["shape"] == [2, 1]

    body["outputs"] = [{"name": "s"}]
    r = requests.post(server.url + "/v2/models/m/versions/1/infer", json=body)
    assert [o["name"] for o in r.json()["outputs"]] == ["s"]
    np.testing.assert_allclose(r.json()["outputs"][0]["data"], s.flatten(), rtol=1e-5, atol=1e-4)


def test_kserve_infer_binary(server):
    x = rng_rows(3, 9)
    y, _ = scale_oracle(x, SCALE)
    header = json.dumps({"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}).encode()
    r = requests.post(server.url + "/v2/models/m/infer", data=header + x.tobytes(),
                      headers={"Inference-Header-Content-Length": str(len(header)),
                               "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    n = int(r.headers["Inference-Header-Content-Length"])
    j = json.loads(r.content[:n])
    assert j["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [3, 4],
                             "parameters": {"binary_data_size": 48}}]
    got = np.frombuffer(r.content[n:], np.float32).reshape(3, 4)
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-5)


def test_kserve_bytes_images(server):
    colours = [(200, 100, 50), (5, 6, 7)]
    pngs = [png_bytes(16, 16, c) for c in colours]
    body = {"inputs": [{"name": "input", "shape": [2], "datatype": "BYTES",
                        "data": [base64.b64encode(p).decode() for p in pngs]}]}
    r = requests.post(server.url + "/v2/models/img/infer", json=body)
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.array(r.json()["outputs"][0]["data"]).reshape(2, 3), np.array(colours) / 255.0,
                               atol=2e-3)
    blob = b"".join(struct.pack("<I", len(p)) + p for p in pngs)
    header = json.dumps({"inputs": [{"name": "input", "shape": [2], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": len(blob)}}]}).encode()
    r = requests.post(server.url + "/v2/models/img/infer", data=header + blob,
                      headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.array(r.json()["outputs"][0]["data"]).reshape(2, 3), np.array(colours) / 255.0,
                               atol=2e-3)


def test_metrics(server):
    requests.post(server.url + "/v1/models/m:predict", json={"instances": rng_rows(1, 3).tolist()})
    requests.post(server.url + "/v1/models/m:predict", json={"instances": [[1, 2]]})
    r = requests.get(server.url + "/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    for needle in ['kiln_requests_total{model="m",outcome="success"}',
                   'kiln_requests_total{model="m",outcome="client_error"}',
                   'kiln_request_latency_seconds_bucket{model="m",stage="queue",le="+Inf"}',
                   'kiln_request_latency_seconds_count{model="m",stage="compute"}',
                   'kiln_request_latency_seconds_sum{model="m",stage="total"}',
                   'kiln_batch_size_bucket{model="m",le="1"}',
                   'kiln_queue_depth{model="m",version="1"} 0',
                   'kiln_model_state{model="m",version="1",state="AVAILABLE"} 1',
                   '# TYPE kiln_request_latency_seconds histogram']:
        assert needle in text, needle
    # Every sample line is "name{labels} number".
    for line in text.splitlines():
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])
