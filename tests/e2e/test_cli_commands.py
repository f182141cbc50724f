"""`kiln inspect`, `kiln bench` and `--help` of every command, end to end on the CPU."""
import json
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import EXPORTER_NET_FLOPS, EXPORTER_NET_PARAMS, REPO

COMMANDS = ["inspect", "run", "bench"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help(kiln, command):
    proc = kiln(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert f"kiln {command}" in proc.stdout
    assert "--help" in proc.stdout


def test_top_level_help_lists_commands(kiln):
    proc = kiln("--help")
    assert proc.returncode == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", proc.stdout, re.M), proc.stdout


def test_inspect_exporter_net(kiln, exporter_net):
    proc = kiln("inspect", exporter_net(13), check=True)
    out = proc.stdout
    assert "format:  ONNX" in out
    assert re.search(r"^\s+x\s+f32\[N,3,32,32\]", out, re.M), out
    assert re.search(r"^\s+y\s+f32\[N,10\]", out, re.M), out
    assert re.search(rf"^parameters:\s+{EXPORTER_NET_PARAMS} ", out, re.M), out
    assert re.search(rf"^FLOPs per image: {EXPORTER_NET_FLOPS} ", out, re.M), out


def test_inspect_resnet50(kiln, zoo_model):
    out = kiln("inspect", zoo_model("resnet50"), check=True).stdout
    flops = int(re.search(r"^FLOPs per image: (\d+)", out, re.M).group(1))
    # ResNet-50 v1.5 at 224x224: 4.09 G multiply-adds (torchvision / fvcore figure).
    assert abs(flops / 2 - 4.09e9) / 4.09e9 < 0.02, out
    assert re.search(r"^\s+Conv\s+53$", out, re.M) or "FusedConv" in out, out
    assert "kiln.preprocess" in out
    # torchvision's resnet50 has 25,557,032 trainable parameters (running statistics excluded).
    assert re.search(r"^parameters:\s+25557032 ", out, re.M), out


def test_inspect_dump_lists_nodes(kiln, exporter_net):
    out = kiln("inspect", exporter_net(13), "--dump", check=True).stdout
    assert "conv2" in out and "fc" in out


@pytest.fixture(scope="module")
def bench_run(kiln, exporter_net, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("bench")
    proc = kiln("bench", exporter_net(13), "--image-file", REPO / "data" / "images" / "sample.jpg", "--native",
                "--fp32", "--fp16", "--batch-size", "2", "--iterations", "20", "--warmup", "2", "--device", "cpu",
                "--output-dir", out_dir)
    return proc, out_dir


def test_bench_writes_log_results_and_chart(bench_run):
    proc, out_dir = bench_run
    assert proc.returncode == 0, proc.stderr
    log = (out_dir / "log.txt").read_text()
    assert "== summary ==" in log and "images/s" in log
    assert proc.stdout.strip() in log.strip() or "== summary ==" in proc.stdout

    results = json.loads((out_dir / "results.json").read_text())
    assert results["batch_size"] == 2
    assert results["device"] == "cpu"
    assert "kiln bench" in results["command"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", results["date"])
    modes = {m["mode"]: m for m in results["modes"]}
    assert list(modes) == ["native", "fp32", "fp16"]
    for name in ("native", "fp32"):
        m = modes[name]
        assert m["status"] == "ok"
        assert m["throughput"] > 0
        lat = m["latency_ms"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
        assert lat["mean"] > 0
        # throughput and latency must agree: 2 images per batch, batches back to back.
        assert 0.5 < m["throughput"] * lat["mean"] / 1000 / 2 < 1.5
        assert len(m["top5"]) == 5
        assert all(0 <= p["prob"] <= 1 for p in m["top5"])
        assert m["top5"][0]["prob"] >= m["top5"][1]["prob"]
    assert modes["native"]["speedup_vs_native"] == pytest.approx(1.0)
    assert modes["fp32"]["speedup_vs_native"] > 0
    # Same network, same image: native and fp32 agree on the prediction.
    assert modes["native"]["top5"][0]["class"] == modes["fp32"]["top5"][0]["class"]
    # The CPU backend cannot build fp16: reported, not fatal.
    assert modes["fp16"]["status"].startswith("skipped: ")

    svg = ET.parse(out_dir / "chart.svg").getroot()
    assert svg.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in svg.iter() if t.tag.endswith("text"))
    assert "native" in texts and "fp32" in texts and "Throughput" in texts


def test_bench_tf_trt_flag_spellings(kiln, exporter_net, tmp_path):
    """The TF-TRT benchmark script's flags work as written."""
    proc = kiln("bench", "--frozen_graph", exporter_net(13), "--image_file", REPO / "data" / "images" / "sample.jpg",
                "--FP32", "--batch_size", "1", "--num_loops", "3", "--output_dir", tmp_path, "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert [m["mode"] for m in results["modes"]] == ["fp32"]
    assert results["modes"][0]["speedup_vs_native"] is None


def test_build_image_input_needs_a_gpu_device(kiln, zoo_model, tmp_path):
    proc = kiln("build", "--input-model", zoo_model("mobilenet-v2"), "--output-model", tmp_path / "1",
                "--image-input", "--device", "cpu")
    assert proc.returncode != 0
    assert "--image-input" in proc.stderr and "cuda" in proc.stderr
    assert not (tmp_path / "1").exists()


def test_run_prints_top_k_for_images(kiln, zoo_model):
    from conftest import parse_predictions
    images = [REPO / "data" / "images" / n for n in ("sample.jpg", "orange.jpg")]
    proc = kiln("run", zoo_model("mobilenet-v2"), "--image", images[0], "--image", images[1], "--top", "3",
                "--device", "cpu", check=True)
    predictions = parse_predictions(proc.stdout)
    assert list(predictions) == [str(i) for i in images]
    for rows in predictions.values():
        assert len(rows) == 3
        assert rows[0][0] >= rows[1][0] >= rows[2][0]
        assert sum(p for p, _, _ in rows) <= 1.0001


def test_run_raw_prints_the_output_tensor(kiln, exporter_net, tmp_path):
    import numpy as np
    x = np.random.default_rng(11).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    proc = kiln("run", exporter_net(13), "--input-npy", tmp_path / "x.npy", "--raw", "--output-npy",
                tmp_path / "y.npy", "--device", "cpu", check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "y f32[2,10]"
    printed = np.array([float(v) for line in lines[1:] for v in line.split()], np.float32)
    np.testing.assert_allclose(printed, np.load(tmp_path / "y.npy").ravel(), rtol=1e-6, atol=1e-6)
