"""Shared fixtures of the end-to-end tests: the kiln binary, zoo models written once per
session, small exporter-style ONNX graphs, and the pretrained-model folder."""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def kiln_path():
    return pathlib.Path(os.environ.get("KILN_BIN", REPO / "build" / "kiln"))


def run_kiln(*args, timeout=600, check=False):
    """Runs kiln with the given arguments; returns the CompletedProcess (text mode)."""
    cmd = [str(kiln_path())] + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def kiln():
    """The kiln runner; skips every test using it when the binary is not built."""
    if not kiln_path().is_file():
        pytest.skip(f"kiln binary not found at {kiln_path()} (set KILN_BIN)")
    return run_kiln


@pytest.fixture(scope="session")
def zoo_model(kiln, tmp_path_factory):
    """zoo_model(name) -> path of the zoo model, written on first use and kept for the session."""
    folder = tmp_path_factory.mktemp("zoo")
    written = {}

    def get(name):
        if name not in written:
            path = folder / f"{name}.onnx"
            run_kiln("zoo", name, "--out", path, check=True)
            written[name] = path
        return written[name]

    return get


def make_exporter_style_net(opset=13):
    """A small conv net as PyTorch/TF exporters write it: dynamic batch, and a flatten
    spelled Shape -> Gather -> Unsqueeze -> Concat -> Reshape before the classifier Gemm.
    Input "x" f32 [N,3,32,32], output "y" f32 [N,10]."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1234)

    def weight(name, shape, scale):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [
        weight("c1.w", (8, 3, 3, 3), 0.3), weight("c1.b", (8,), 0.1),
        weight("c2.w", (16, 8, 3, 3), 0.15), weight("c2.b", (16,), 0.1),
        weight("fc.w", (10, 16 * 8 * 8), 0.05), weight("fc.b", (10,), 0.1),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus_one"),
    ]
    if opset >= 13:
        inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"))
        unsqueeze = helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsqueeze")
    else:
        unsqueeze = helper.make_node("Unsqueeze", ["batch"], ["batch1"], name="unsqueeze", axes=[0])
    nodes = [
        helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["a1"], name="conv1", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2.w", "c2.b"], ["a2"], name="conv2", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["p2"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
        unsqueeze,
        helper.make_node("Concat", ["batch1", "minus_one"], ["new_shape"], name="concat", axis=0),
        helper.make_node("Reshape", ["p2", "new_shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "exporter_style_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytest")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# Cost of make_exporter_style_net at batch 1, computed by hand for `kiln inspect`:
# conv1 8x32x32 outputs x 27 taps, conv2 16x16x16 outputs x 72 taps, fc 10 x 1024.
EXPORTER_NET_FLOPS = 2 * (8 * 32 * 32 * 27 + 16 * 16 * 16 * 72 + 10 * 1024)
EXPORTER_NET_PARAMS = 8 * 27 + 8 + 16 * 72 + 16 + 10 * 1024 + 10


@pytest.fixture(scope="session")
def exporter_net(tmp_path_factory):
    """exporter_net(opset) -> path of make_exporter_style_net(opset) saved as ONNX."""
    pytest.importorskip("onnx")
    folder = tmp_path_factory.mktemp("exporter")
    written = {}

    def get(opset=13):
        if opset not in written:
            import onnx
            path = folder / f"exporter_net_opset{opset}.onnx"
            onnx.save(make_exporter_style_net(opset), str(path))
            written[opset] = path
        return written[opset]

    return get


@pytest.fixture(scope="session")
def pretrained_dir():
    d = os.environ.get("KILN_PRETRAINED_DIR")
    if not d:
        pytest.skip("KILN_PRETRAINED_DIR is not set; the pretrained ShuffleNet checks need it")
    path = pathlib.Path(d)
    if not (path / "shufflenet-v2-12-qdq.onnx").is_file():
        pytest.skip(f"no shufflenet-v2-12-qdq.onnx in KILN_PRETRAINED_DIR={d}")
    return path


def parse_predictions(stdout):
    """Parses `kiln run` output into {image: [(prob, class, label), ...]}."""
    import re
    result, current = {}, None
    for line in stdout.splitlines():
        m = re.match(r"^\s+\d+\. ([0-9.]+)\s+class (\d+)\s+(.*)$", line)
        if m and current is not None:
            result[current].append((float(m.group(1)), int(m.group(2)), m.group(3).strip()))
        elif line and not line.startswith(" "):
            current = line.strip()
            result[current] = []
    return result
