"""The CPU kernels on a real quantized network: the pretrained QDQ ShuffleNet-v2 (QuantizeLinear,
DequantizeLinear, Conv, Split, Transpose, Concat, MaxPool, ReduceMean, MatMul) run natively through
`kiln run --device cpu --precision native` must match ONNX Runtime on seeded random inputs."""
import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("seed", [3, 4])
def test_qdq_shufflenet_matches_onnxruntime(kiln, pretrained_dir, tmp_path, seed):
    model = pretrained_dir / "shufflenet-v2-12-qdq.onnx"
    x = np.random.default_rng(seed).standard_normal((1, 3, 224, 224)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    kiln("run", model, "--input-npy", tmp_path / "x.npy", "--output-npy", tmp_path / "y.npy",
         "--device", "cpu", "--precision", "native", check=True)
    got = np.load(tmp_path / "y.npy")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    want = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert got.shape == want.shape == (1, 1000)
    # Quantized activations make small float differences jump a whole quantization step, so
    # compare the logits loosely and the ranking exactly.
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()
    assert got.argmax() == want.argmax()
