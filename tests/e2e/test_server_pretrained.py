"""`kiln serve` with the real pretrained ShuffleNet-v2 (static batch 1, QDQ): photos sent
as {"b64": ...} (TF Serving) and BYTES (KServe) are decoded and preprocessed on the server
and classified as ONNX Runtime classifies them (see the pretrained README)."""
import base64

import numpy as np
import pytest

requests = pytest.importorskip("requests")

from kiln_server_harness import Server, kiln_bin

EXPECTED = {"parrot.jpg": "macaw", "cat.bmp": "Egyptian cat", "grace_hopper.bmp": "Windsor tie"}


@pytest.fixture(scope="module")
def shufflenet_server(pretrained_dir, tmp_path_factory):
    if not kiln_bin().is_file():
        pytest.skip(f"kiln binary not found at {kiln_bin()} (set KILN_BIN)")
    base = tmp_path_factory.mktemp("shufflenet")
    (base / "1").mkdir()
    (base / "1" / "model.onnx").symlink_to(pretrained_dir / "shufflenet-v2-12-qdq.onnx")
    with Server(base, model_name="shufflenet") as s:
        yield s, pretrained_dir
    assert s.returncode == 0, s.log


def label_of(pretrained_dir, logits):
    labels = (pretrained_dir / "imagenet_classes_1000.txt").read_text().splitlines()
    return labels[int(np.argmax(logits))]


def test_tf_serving_b64_photos(shufflenet_server):
    server, data = shufflenet_server
    names = sorted(EXPECTED)
    instances = [{"b64": base64.b64encode((data / "images" / n).read_bytes()).decode()} for n in names]
    # Three instances on a batch-1 engine: the server splits and rejoins them.
    r = requests.post(server.url + "/v1/models/shufflenet:predict", json={"instances": instances}, timeout=120)
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert len(preds) == 3 and len(preds[0]) == 1000
    for name, logits in zip(names, preds):
        assert label_of(data, logits) == EXPECTED[name], name


def test_kserve_bytes_photo(shufflenet_server):
    server, data = shufflenet_server
    photo = base64.b64encode((data / "images" / "parrot.jpg").read_bytes()).decode()
    body = {"inputs": [{"name": "input", "shape": [1], "datatype": "BYTES", "data": [photo]}]}
    r = requests.post(server.url + "/v2/models/shufflenet/infer", json=body, timeout=120)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["shape"] == [1, 1000]
    assert label_of(data, out["data"]) == "macaw"


def test_non_image_bytes_are_rejected(shufflenet_server):
    server, _ = shufflenet_server
    r = requests.post(server.url + "/v1/models/shufflenet:predict",
                      json={"instances": [{"b64": base64.b64encode(b"GIF89a not really").decode()}]})
    assert r.status_code == 400 and "row 0" in r.json()["error"]
