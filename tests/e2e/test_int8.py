"""INT8 from the command line: `kiln build --precision int8` asks for calibration data,
`kiln eval` scores a labelled folder and compares precisions, and an explicitly quantized
(Q/DQ) ONNX model built here with onnx.helper runs on the CPU as ONNX Runtime runs it."""
import os
import shutil

import pytest

from conftest import REPO, run_kiln

CLASSES = {"parrot.jpg": "macaw", "cat.bmp": "Egyptian cat", "grace_hopper.bmp": "Windsor tie"}


def test_int8_build_without_calibration_data_is_refused(kiln, zoo_model, tmp_path):
    proc = kiln("build", "--input-model", zoo_model("mobilenet-v2"), "--output-model", tmp_path / "m" / "1",
                "--precision", "int8")
    assert proc.returncode == 1, proc.stderr
    assert "--calib-data" in proc.stderr
    assert "Traceback" not in proc.stderr and "Segmentation" not in proc.stderr


def test_int8_build_with_a_missing_calibration_folder_is_refused(kiln, zoo_model, tmp_path):
    proc = kiln("build", "--input-model", zoo_model("mobilenet-v2"), "--output-model", tmp_path / "m" / "1",
                "--precision", "int8", "--calib-data", tmp_path / "absent")
    assert proc.returncode == 1
    assert "absent" in proc.stderr and "calibration data folder" in proc.stderr


def test_best_build_on_the_cpu_is_refused_clearly(kiln, zoo_model, tmp_path):
    # best chooses between INT8 and FP16 kernels per layer: a GPU-only mode.
    proc = kiln("build", "--input-model", zoo_model("mobilenet-v2"), "--output-model", tmp_path / "m" / "1",
                "--precision", "best", "--device", "cpu", "--calib-data", REPO / "data" / "images")
    assert proc.returncode != 0
    assert "CPU backend runs native" in proc.stderr and "--device cuda" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "Segmentation" not in proc.stderr


def labelled_folder(pretrained_dir, tmp_path):
    root = tmp_path / "labelled"
    for image, label in CLASSES.items():
        (root / label).mkdir(parents=True)
        shutil.copy(pretrained_dir / "images" / image, root / label / image)
    return root


def test_eval_scores_a_labelled_folder_and_compares_precisions(kiln, pretrained_dir, tmp_path):
    root = labelled_folder(pretrained_dir, tmp_path)
    proc = kiln("eval", pretrained_dir / "shufflenet-v2-12-qdq.onnx", "--images", root, "--labels-file",
                pretrained_dir / "imagenet_classes_1000.txt", "--device", "cpu", "--compare", "native",
                "--batch-size", "2", check=True)
    out = proc.stdout
    assert "top-1      100.00% (3/3)" in out, out
    assert "top-5      100.00% (3/3)" in out, out
    assert "top-1 agreement 100.00% (3/3)" in out, out
    assert "top-5 overlap 100.00%" in out, out


def test_eval_rejects_a_folder_that_is_not_a_label(kiln, pretrained_dir, tmp_path):
    root = tmp_path / "bad"
    (root / "not a class").mkdir(parents=True)
    shutil.copy(pretrained_dir / "images" / "cat.bmp", root / "not a class" / "cat.bmp")
    proc = kiln("eval", pretrained_dir / "shufflenet-v2-12-qdq.onnx", "--images", root, "--labels-file",
                pretrained_dir / "imagenet_classes_1000.txt", "--device", "cpu")
    assert proc.returncode == 1
    assert "not a class" in proc.stderr


def make_qdq_conv_model(path):
    """x f32 [1,5,9,9] -> Q/DQ (int8, scale 0.05) -> Conv 3x3 stride 2 (per-channel int8 weights, 7 outputs)
    + bias -> Relu -> Q/DQ (scale 0.04) -> Conv 1x1 (6 outputs) -> y."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    inits = []

    def const(name, array):
        inits.append(numpy_helper.from_array(array, name))
        return name

    def qdq(src, scale, name):
        s = const(f"{name}_s", np.array(scale, np.float32))
        z = const(f"{name}_z", np.array(0, np.int8))
        return [helper.make_node("QuantizeLinear", [src, s, z], [f"{name}_q"]),
                helper.make_node("DequantizeLinear", [f"{name}_q", s, z], [f"{name}_dq"])], f"{name}_dq"

    def weight(name, shape):
        w = rng.integers(-127, 128, size=shape).astype(np.int8)
        scales = (rng.random(shape[0]) * 0.02 + 0.005).astype(np.float32)
        zeros = np.zeros(shape[0], np.int8)
        node = helper.make_node("DequantizeLinear", [const(f"{name}_q", w), const(f"{name}_s", scales),
                                                     const(f"{name}_z", zeros)], [f"{name}_dq"], axis=0)
        return node, f"{name}_dq"

    nodes = []
    n, x = qdq("x", 0.05, "in")
    nodes += n
    wn, w = weight("w1", (7, 5, 3, 3))
    nodes.append(wn)
    b = const("b1", (rng.standard_normal(7) * 0.1).astype(np.float32))
    nodes.append(helper.make_node("Conv", [x, w, b], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]))
    nodes.append(helper.make_node("Relu", ["c1"], ["r1"]))
    n, h = qdq("r1", 0.04, "mid")
    nodes += n
    wn, w2 = weight("w2", (6, 7, 1, 1))
    nodes.append(wn)
    nodes.append(helper.make_node("Conv", [h, w2], ["y"]))
    graph = helper.make_graph(nodes, "qdq_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 9, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 5, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


def test_qdq_conv_model_matches_onnxruntime(kiln, tmp_path):
    np = pytest.importorskip("numpy")
    ort = pytest.importorskip("onnxruntime")
    model = tmp_path / "qdq.onnx"
    make_qdq_conv_model(model)
    x = np.random.default_rng(3).standard_normal((1, 5, 9, 9)).astype(np.float32) * 2
    np.save(tmp_path / "x.npy", x)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # exact Q/DQ float semantics
    want = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.abs(want).max() > 0
    kiln("run", model, "--input-npy", tmp_path / "x.npy", "--output-npy", tmp_path / "y.npy", "--device", "cpu",
         "--raw", check=True)
    got = np.load(tmp_path / "y.npy")
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_int8_on_the_cpu_simulates_the_scheme_and_reports_agreement(kiln, zoo_model, tmp_path):
    # Machines without a GPU get INT8 as a float simulation of the GPU's scheme (accuracy,
    # not speed): calibrated like a GPU build, compared with FP32 on the image's folder.
    import json
    out = tmp_path / "bench"
    kiln("bench", zoo_model("mobilenet-v2"), "--image", REPO / "data" / "images" / "sample.jpg", "--device", "cpu",
         "--fp32", "--int8", "--calib-data", REPO / "data" / "images", "--calibrator", "percentile",
         "--iterations", "2", "--warmup", "1", "--output-dir", out, check=True)
    modes = {m["mode"]: m for m in json.loads((out / "results.json").read_text())["modes"]}
    assert modes["int8"]["status"] == "ok", modes["int8"]
    agreement = modes["int8"]["agreement_vs_fp32"]
    assert agreement["images"] == 3
    assert 0 < agreement["logits_rel_l2_mean"] < 0.5, agreement
    assert modes["fp32"]["agreement_vs_fp32"] is None


def test_int8_plan_built_on_the_cpu_loads_and_runs(kiln, zoo_model, tmp_path):
    plan_dir = tmp_path / "m" / "1"
    proc = kiln("build", "--input-model", zoo_model("mobilenet-v2"), "--output-model", plan_dir, "--precision", "int8",
                "--device", "cpu", "--calib-data", REPO / "data" / "images", check=True)
    assert "precision   int8" in proc.stdout, proc.stdout
    run = kiln("run", plan_dir / "model.plan", "--image", REPO / "data" / "images" / "sample.jpg", "--device", "cpu",
               check=True)
    assert "sample.jpg" in run.stdout
