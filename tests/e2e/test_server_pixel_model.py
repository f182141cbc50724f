"""`kiln serve` with a pixel model (uint8 [N,224,224,3] input, the kind `kiln build
--image-input` makes for the GPU): metadata says UINT8, encoded images are resized into
uint8 rows, UINT8 tensors and JSON integers fill the input directly, bad pixel values are
400s naming the position, and `kiln predict` / `kiln loadgen` send pixels.

Oracles: numpy on the model's arithmetic (pixel_oracle) for images that reach the model
unchanged or solid-coloured; for photos that the server resizes, the pixels the client
computes with the same code (`kiln predict --payload json|binary`) and `kiln run`."""
import base64
import json

import numpy as np
import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("onnx")

from conftest import REPO, parse_predictions
from kiln_server_harness import (PIXEL_FEATURES, PIXEL_SIZE, Server, kiln_bin, pixel_model, pixel_oracle,
                                 png_bytes, png_image_bytes, write_version)

SAMPLE = REPO / "data" / "images" / "sample.jpg"
ORANGE = REPO / "data" / "images" / "orange.jpg"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not kiln_bin().is_file():
        pytest.skip(f"kiln binary not found at {kiln_bin()} (set KILN_BIN)")
    base = tmp_path_factory.mktemp("pixel")
    write_version(base, 1, pixel_model(), config={"max_batch_size": 4})
    with Server(base, "--batch-timeout-micros", 500, model_name="px") as s:
        s.model_file = base / "1" / "model.onnx"
        yield s
    assert s.returncode == 0, s.log


def random_pixels(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, PIXEL_SIZE, PIXEL_SIZE, 3), dtype=np.uint8)


def outputs_of(j):
    """{"mean": [N,3], "proj": [N,8]} from a KServe response."""
    return {o["name"]: np.array(o["data"], np.float32).reshape(o["shape"]) for o in j["outputs"]}


def assert_oracle(mean, proj, pixels):
    want_mean, want_proj = pixel_oracle(pixels)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(proj, want_proj, rtol=1e-4, atol=1e-4)


def kserve_binary(url, pixels, datatype="UINT8", shape=None):
    header = json.dumps({"inputs": [{"name": "pixels", "shape": list(shape or pixels.shape), "datatype": datatype,
                                     "parameters": {"binary_data_size": pixels.nbytes}}]}).encode()
    return requests.post(url + "/v2/models/px/infer", data=header + pixels.tobytes(),
                         headers={"Inference-Header-Content-Length": str(len(header)),
                                  "Content-Type": "application/octet-stream"})


def test_serve_metadata_reports_uint8(served):
    j = requests.get(served.url + "/v2/models/px").json()
    assert j["inputs"] == [{"name": "pixels", "datatype": "UINT8", "shape": [-1, PIXEL_SIZE, PIXEL_SIZE, 3]}]
    assert json.loads(j["parameters"]["kiln.preprocess"])["resize_shorter"] == PIXEL_SIZE
    sig = requests.get(served.url + "/v1/models/px/metadata").json()["metadata"]["signature_def"]["signature_def"]
    inp = sig["serving_default"]["inputs"]["pixels"]
    assert inp["dtype"] == "DT_UINT8"
    assert [d["size"] for d in inp["tensor_shape"]["dim"]] == ["-1", str(PIXEL_SIZE), str(PIXEL_SIZE), "3"]


def test_tfserving_b64_png_equals_numpy_of_its_pixels(served):
    pixels = random_pixels(2, 1)
    instances = [{"b64": base64.b64encode(png_image_bytes(p)).decode()} for p in pixels]
    r = requests.post(served.url + "/v1/models/px:predict", json={"instances": instances})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert_oracle(np.array([p["mean"] for p in preds]), np.array([p["proj"] for p in preds]), pixels)


def test_tfserving_json_integers_and_resized_solid_colour(served):
    pixels = random_pixels(1, 2)
    r = requests.post(served.url + "/v1/models/px:predict", json={"instances": pixels.tolist()})
    assert r.status_code == 200, r.text
    p = r.json()["predictions"][0]
    assert_oracle(np.array([p["mean"]]), np.array([p["proj"]]), pixels)
    # A solid colour stays that colour through the resize and crop, whatever the image size.
    colour = (200, 31, 7)
    r = requests.post(served.url + "/v1/models/px:predict",
                      json={"instances": [{"b64": base64.b64encode(png_bytes(300, 260, colour)).decode()}]})
    assert r.status_code == 200, r.text
    solid = np.broadcast_to(np.array(colour, np.uint8), (1, PIXEL_SIZE, PIXEL_SIZE, 3))
    p = r.json()["predictions"][0]
    assert_oracle(np.array([p["mean"]]), np.array([p["proj"]]), solid)


def test_kserve_uint8_binary_json_and_bytes(served):
    pixels = random_pixels(3, 3)
    r = kserve_binary(served.url, pixels)
    assert r.status_code == 200, r.text
    out = outputs_of(r.json())
    assert_oracle(out["mean"], out["proj"], pixels)

    body = {"inputs": [{"name": "pixels", "shape": list(pixels.shape), "datatype": "UINT8",
                        "data": pixels.flatten().tolist()}]}
    r = requests.post(served.url + "/v2/models/px/infer", json=body)
    assert r.status_code == 200, r.text
    out = outputs_of(r.json())
    assert_oracle(out["mean"], out["proj"], pixels)

    body = {"inputs": [{"name": "pixels", "shape": [3], "datatype": "BYTES",
                        "data": [base64.b64encode(png_image_bytes(p)).decode() for p in pixels]}]}
    r = requests.post(served.url + "/v2/models/px/infer", json=body)
    assert r.status_code == 200, r.text
    out = outputs_of(r.json())
    assert_oracle(out["mean"], out["proj"], pixels)


def test_kserve_uint8_image_of_another_size_is_resized(served):
    colour = (9, 140, 251)
    solid = np.empty((1, 230, 200, 3), np.uint8)
    solid[:] = colour
    r = kserve_binary(served.url, solid)
    assert r.status_code == 200, r.text
    out = outputs_of(r.json())
    assert_oracle(out["mean"], out["proj"], np.broadcast_to(np.array(colour, np.uint8), (1, PIXEL_SIZE, PIXEL_SIZE, 3)))


def test_kserve_jpeg_bytes_equal_client_pixels(served):
    """A photo the server decodes and resizes gives what the pixels the client resized give."""
    jpeg = SAMPLE.read_bytes()
    body = {"inputs": [{"name": "pixels", "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(jpeg).decode()]}]}
    r = requests.post(served.url + "/v2/models/px/infer", json=body)
    assert r.status_code == 200, r.text
    server_side = outputs_of(r.json())
    tf = requests.post(served.url + "/v1/models/px:predict",
                       json={"instances": [{"b64": base64.b64encode(jpeg).decode()}]}).json()["predictions"][0]
    np.testing.assert_array_equal(np.array(tf["proj"], np.float32), server_side["proj"][0])
    # A mean of a resized photo: inside 0..255 and not a solid colour's.
    assert np.all((server_side["mean"] > 0) & (server_side["mean"] < 255))


def bad(r, *needles):
    assert r.status_code == 400, (r.status_code, r.text)
    message = r.json().get("error", "")
    for n in needles:
        assert n in message, (n, message)


def test_serve_bad_pixel_values_are_400s_naming_the_position(served):
    pixels = random_pixels(1, 4).astype(np.int64)
    for value, needles in [(256, ["row 0: 256 at [5,7,2] is out of range for uint8 (0..255)"]),
                           (-1, ["row 0: -1 at [5,7,2] is out of range for uint8 (0..255)"]),
                           (1.5, ["row 0: expected an integer at [5,7,2], got 1.5"])]:
        rows = pixels.tolist()
        rows[0][5][7][2] = value
        bad(requests.post(served.url + "/v1/models/px:predict", json={"instances": rows}), *needles)
        body = {"inputs": [{"name": "pixels", "shape": list(pixels.shape), "datatype": "UINT8",
                            "data": sum(sum(sum(rows, []), []), [])}]}
        flat = (5 * PIXEL_SIZE + 7) * 3 + 2
        bad(requests.post(served.url + "/v2/models/px/infer", json=body), f"at [{flat}]")
    # Wrong shapes and datatypes.
    bad(kserve_binary(served.url, random_pixels(1, 5)[0]), "expected shape [N,224,224,3], got [224,224,3]")
    four = np.zeros((1, PIXEL_SIZE, PIXEL_SIZE, 4), np.uint8)
    bad(kserve_binary(served.url, four), "expected shape [N,224,224,3], got [1,224,224,4]")
    bad(kserve_binary(served.url, random_pixels(1, 5), shape=[2, PIXEL_SIZE, PIXEL_SIZE, 3]), "binary data has")
    floats = np.zeros((1, PIXEL_SIZE, PIXEL_SIZE, 3), np.float32)
    bad(kserve_binary(served.url, floats, datatype="FP32"), "FP32 does not match the model's UINT8")
    bad(requests.post(served.url + "/v1/models/px:predict", json={"instances": [[[1, 2, 3, 4]]]}), "pixels")
    bad(requests.post(served.url + "/v1/models/px:predict", json={"instances": [{"b64": "bm90IGFuIGltYWdl"}]}))
    # Still healthy and still right.
    assert requests.get(served.url + "/v2/health/ready").status_code == 200
    pixels = random_pixels(1, 6)
    r = kserve_binary(served.url, pixels)
    assert r.status_code == 200, r.text
    out = outputs_of(r.json())
    assert_oracle(out["mean"], out["proj"], pixels)


@pytest.fixture(scope="module")
def labels8(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "labels8.txt"
    path.write_text("".join(f"label_{i}\n" for i in range(PIXEL_FEATURES)))
    return path


def test_predict_pixel_payloads_match_local_run(kiln, served, labels8):
    want = parse_predictions(kiln("run", served.model_file, "--image", SAMPLE, "--image", ORANGE, "--device", "cpu",
                                  "--labels", labels8, check=True).stdout)
    for protocol, payload in [("tfserving", "jpeg"), ("tfserving", "json"), ("kserve", "jpeg"), ("kserve", "json"),
                              ("kserve", "binary")]:
        proc = kiln("predict", "--url", served.url, "--model", "px", "--image", SAMPLE, "--image", ORANGE,
                    "--protocol", protocol, "--payload", payload, "--labels", labels8, timeout=120)
        assert proc.returncode == 0, (protocol, payload, proc.stderr)
        got = parse_predictions(proc.stdout)
        assert set(got) == set(want), (got, want)
        for image, rows in want.items():
            assert [c for _, c, _ in got[image]] == [c for _, c, _ in rows], (protocol, payload, got, want)
            for (p_got, _, _), (p_want, _, _) in zip(got[image], rows):
                assert abs(p_got - p_want) <= 2e-4, (protocol, payload, got, want)


@pytest.mark.parametrize("protocol,payload", [("kserve", "binary"), ("tfserving", "json"), ("kserve", "jpeg")])
def test_loadgen_pixel_payloads(kiln, served, tmp_path, protocol, payload):
    out = tmp_path / "report.json"
    # No warm-up, so the first request counts even on a busy machine.
    proc = kiln("loadgen", "--url", served.url, "--model", "px", "--concurrency", "1", "--duration", "2",
                "--warmup", "0", "--batch", "2", "--protocol", protocol, "--payload", payload, "--image", ORANGE,
                "--output-json", out, timeout=60)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    report = json.loads(out.read_text())
    assert report["requests"]["succeeded"] > 0 and report["errors"]["total"] == 0, report
    if payload == "binary":
        # 2 rows of 224x224x3 bytes plus a short JSON header: pixels travel as bytes, not floats.
        size = int(proc.stdout.split(" bytes per request")[0].rsplit(" ", 1)[1])
        assert 2 * PIXEL_SIZE * PIXEL_SIZE * 3 < size < 2 * PIXEL_SIZE * PIXEL_SIZE * 3 + 1000, proc.stdout
