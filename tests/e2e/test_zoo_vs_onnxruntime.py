"""kiln's CPU engine against ONNX Runtime on the zoo models and an exporter-style graph:
seeded random inputs through `kiln run --input-npy`, relative L2 error below 1e-4."""
import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

REL_L2_LIMIT = 1e-4


def rel_l2(got, want):
    return float(np.linalg.norm(got.astype(np.float64) - want) / max(np.linalg.norm(want.astype(np.float64)), 1e-30))


def compare(kiln, model_path, input_name, shape, tmp_path, seed):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    kiln("run", model_path, "--input-npy", tmp_path / "x.npy", "--output-npy", tmp_path / "y.npy",
         "--device", "cpu", check=True)
    got = np.load(tmp_path / "y.npy")
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    want = session.run(None, {input_name: x})[0]
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    err = rel_l2(got, want)
    assert err < REL_L2_LIMIT, f"relative L2 error {err:.3g} vs ONNX Runtime"
    return got


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("name", ["resnet50", "resnet50-v2", "mobilenet-v2"])
def test_zoo_model_matches_onnxruntime(kiln, zoo_model, tmp_path, name, batch):
    got = compare(kiln, zoo_model(name), "input", (batch, 3, 224, 224), tmp_path, seed=100 + batch)
    assert got.shape == (batch, 1000)
    assert np.isfinite(got).all()
    assert got.std() > 0  # a dead network would match trivially


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("opset", [11, 13])
def test_exporter_style_graph_matches_onnxruntime(kiln, exporter_net, tmp_path, opset, batch):
    got = compare(kiln, exporter_net(opset), "x", (batch, 3, 32, 32), tmp_path, seed=7 * batch + opset)
    assert got.shape == (batch, 10)


def test_batch_rows_are_independent(kiln, exporter_net, tmp_path):
    """Row 0 of a batch of 2 equals the same image run alone."""
    x = np.random.default_rng(5).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x2.npy", x)
    np.save(tmp_path / "x1.npy", x[:1])
    for n in ("1", "2"):
        kiln("run", exporter_net(13), "--input-npy", tmp_path / f"x{n}.npy", "--output-npy",
             tmp_path / f"y{n}.npy", "--device", "cpu", check=True)
    y1, y2 = np.load(tmp_path / "y1.npy"), np.load(tmp_path / "y2.npy")
    assert rel_l2(y2[:1], y1) < 1e-6
