"""Bad input never crashes kiln: a non-zero exit (not a signal) and a message on stderr
that names the problem."""
import numpy as np
import pytest


def assert_clean_failure(proc, *needles):
    assert proc.returncode > 0, f"exit {proc.returncode} (negative = killed by a signal)\nstderr: {proc.stderr}"
    assert proc.returncode < 128, f"exit {proc.returncode} looks like a crash\nstderr: {proc.stderr}"
    for needle in needles:
        assert str(needle) in proc.stderr, f"{needle!r} not in stderr:\n{proc.stderr}"
    assert "internal error" not in proc.stderr, proc.stderr


@pytest.fixture
def valid_npy(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32))
    return path


@pytest.mark.parametrize("command", ["inspect", "run"])
def test_truncated_onnx(kiln, exporter_net, tmp_path, valid_npy, command):
    data = exporter_net(13).read_bytes()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) // 2])
    args = [command, bad] + (["--input-npy", valid_npy, "--device", "cpu"] if command == "run" else [])
    assert_clean_failure(kiln(*args), bad)


def test_corrupt_onnx(kiln, tmp_path, valid_npy):
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert_clean_failure(kiln("run", bad, "--input-npy", valid_npy, "--device", "cpu"), bad)
    assert_clean_failure(kiln("inspect", bad), bad)


def test_onnx_with_unknown_op(kiln, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    node = helper.make_node("FrobnicateTensor", ["x"], ["y"], name="mystery", domain="")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "unknown_op.onnx"
    onnx.save(model, str(path))
    assert_clean_failure(kiln("inspect", path), "FrobnicateTensor")
    np.save(tmp_path / "x4.npy", np.ones((1, 4), np.float32))
    assert_clean_failure(kiln("run", path, "--input-npy", tmp_path / "x4.npy", "--device", "cpu"), "FrobnicateTensor")


def test_wrong_input_shape(kiln, exporter_net, tmp_path):
    path = tmp_path / "wrong.npy"
    np.save(path, np.ones((1, 3, 20, 32), np.float32))
    proc = kiln("run", exporter_net(13), "--input-npy", path, "--device", "cpu")
    assert_clean_failure(proc, "'x'", "[1,3,20,32]")


def test_wrong_input_count(kiln, exporter_net, valid_npy):
    proc = kiln("run", exporter_net(13), "--input-npy", valid_npy, "--input-npy", valid_npy, "--device", "cpu")
    assert_clean_failure(proc, "1 input(s)", "2 --input-npy")


def test_corrupt_npy(kiln, exporter_net, tmp_path):
    path = tmp_path / "corrupt.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (1,3" + b" " * 10)
    assert_clean_failure(kiln("run", exporter_net(13), "--input-npy", path, "--device", "cpu"), path)


def test_missing_model(kiln, tmp_path):
    missing = tmp_path / "nope.onnx"
    assert_clean_failure(kiln("inspect", missing), missing)


def test_missing_image(kiln, exporter_net, tmp_path):
    missing = tmp_path / "no_such_photo.jpg"
    assert_clean_failure(kiln("run", exporter_net(13), "--image", missing, "--device", "cpu"), missing)


@pytest.mark.parametrize("content", [b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x17" * 300,
                                     b"not an image at all",
                                     b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_corrupt_image(kiln, exporter_net, tmp_path, content):
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(content)
    assert_clean_failure(kiln("run", exporter_net(13), "--image", bad, "--device", "cpu"), bad)


def test_truncated_jpeg(kiln, exporter_net, tmp_path):
    from conftest import REPO
    sample = (REPO / "data" / "images" / "sample.jpg").read_bytes()
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(sample[:600])
    assert_clean_failure(kiln("run", exporter_net(13), "--image", bad, "--device", "cpu"), bad)


def test_bench_with_missing_image(kiln, exporter_net, tmp_path):
    missing = tmp_path / "missing.jpg"
    proc = kiln("bench", exporter_net(13), "--image", missing, "--output-dir", tmp_path / "out", "--device", "cpu")
    assert_clean_failure(proc, missing)


def test_unknown_device(kiln, exporter_net, valid_npy):
    assert_clean_failure(kiln("run", exporter_net(13), "--input-npy", valid_npy, "--device", "tpu:7"), "tpu:7")


def test_bad_flags_exit_with_usage_code(kiln, exporter_net):
    proc = kiln("run", exporter_net(13), "--top", "zero")
    assert proc.returncode == 2, proc.stderr
    proc = kiln("bench", exporter_net(13))  # --image is required
    assert proc.returncode == 2, proc.stderr
    assert "--image" in proc.stderr


def test_bench_output_dir_that_cannot_be_created(kiln, exporter_net, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    from conftest import REPO
    proc = kiln("bench", exporter_net(13), "--image", REPO / "data" / "images" / "sample.jpg", "--device", "cpu",
                "--iterations", "1", "--output-dir", blocker / "out")
    assert_clean_failure(proc, "--output-dir", "a_file")
