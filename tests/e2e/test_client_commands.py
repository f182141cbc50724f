"""`kiln predict` and `kiln loadgen` against a real `kiln serve` on loopback, serving a
small exporter-style conv net (input x f32[N,3,32,32], output y f32[N,10]).

Oracle for predict: `kiln run` on the same model and photo, locally, without the server;
every protocol and payload must give its top-5 classes and probabilities."""
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import REPO, kiln_path, parse_predictions

IMAGES = REPO / "data" / "images"
SAMPLE = IMAGES / "sample.jpg"
ORANGE = IMAGES / "orange.jpg"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def labels10(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "labels10.txt"
    path.write_text("".join(f"label_{i}\n" for i in range(10)))
    return path


@pytest.fixture(scope="module")
def served(kiln, exporter_net, tmp_path_factory):
    """Starts `kiln serve` on a free loopback port; yields (url, model path)."""
    base = tmp_path_factory.mktemp("served")
    (base / "1").mkdir()
    model = base / "1" / "model.onnx"
    model.write_bytes(exporter_net(13).read_bytes())
    port = free_port()
    log = open(base / "serve.log", "w+")
    proc = subprocess.Popen([str(kiln_path()), "serve", "--model-base-path", str(base), "--rest-api-port", str(port),
                             "--rest-api-address", "127.0.0.1", "--file-system-poll-wait-seconds", "0"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    ready = False
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/v1/models/default", timeout=2) as r:
                if b"AVAILABLE" in r.read():
                    ready = True
                    break
        except OSError:
            pass
        time.sleep(0.3)
    if not ready:
        proc.kill()
        proc.wait()
        log.seek(0)
        pytest.fail(f"kiln serve did not become ready:\n{log.read()}")
    yield url, model
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="module")
def local_predictions(kiln, served, labels10):
    """`kiln run` of the served model on the sample and orange photos: the oracle."""
    _, model = served
    proc = kiln("run", model, "--image", SAMPLE, "--image", ORANGE, "--device", "cpu", "--labels", labels10,
                check=True)
    return parse_predictions(proc.stdout)


def assert_same_predictions(got, want):
    assert set(got) == set(want), (got, want)
    for image, rows in want.items():
        assert len(got[image]) == len(rows) == 5
        for (p_got, c_got, l_got), (p_want, c_want, l_want) in zip(got[image], rows):
            assert c_got == c_want and l_got == l_want, (image, got[image], rows)
            assert abs(p_got - p_want) <= 2e-4, (image, got[image], rows)


PROTOCOL_PAYLOADS = [("tfserving", "jpeg"), ("tfserving", "json"), ("kserve", "jpeg"), ("kserve", "json"),
                     ("kserve", "binary")]


@pytest.mark.parametrize("protocol,payload", PROTOCOL_PAYLOADS)
def test_predict_matches_local_run(kiln, served, labels10, local_predictions, protocol, payload):
    url, _ = served
    proc = kiln("predict", "--url", url, "--image", SAMPLE, "--image", ORANGE, "--protocol", protocol,
                "--payload", payload, "--labels", labels10, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = parse_predictions(proc.stdout)
    assert_same_predictions(got, local_predictions)
    assert "label_" in proc.stdout


def test_predict_with_version_and_top(kiln, served, labels10, local_predictions):
    url, _ = served
    proc = kiln("predict", "--url", url, "--model", "default", "--version", "1", "--image", SAMPLE, "--top", "3",
                "--labels", labels10, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = parse_predictions(proc.stdout)[str(SAMPLE)]
    assert [c for _, c, _ in got] == [c for _, c, _ in local_predictions[str(SAMPLE)][:3]]


def test_predict_unknown_model_prints_the_servers_error(kiln, served, labels10):
    url, _ = served
    for protocol in ("tfserving", "kserve"):
        proc = kiln("predict", "--url", url, "--model", "nope", "--image", SAMPLE, "--protocol", protocol,
                    "--labels", labels10, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert "HTTP 404" in proc.stderr and "nope" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_predict_bad_image_is_a_400_from_the_server(kiln, served, labels10, tmp_path):
    url, _ = served
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg" * 10)
    proc = kiln("predict", "--url", url, "--image", bad, "--labels", labels10, timeout=60)
    assert proc.returncode == 1
    assert "HTTP 400" in proc.stderr, proc.stderr


def test_predict_connection_refused(kiln, labels10):
    start = time.time()
    proc = kiln("predict", "--url", f"http://127.0.0.1:{free_port()}", "--image", SAMPLE, "--labels", labels10,
                timeout=60)
    assert proc.returncode == 1
    assert "cannot connect" in proc.stderr, proc.stderr
    assert time.time() - start < 20


def test_predict_timeout_against_a_silent_server(kiln, labels10):
    """A server that accepts and never answers: --timeout bounds the wait."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        start = time.time()
        proc = kiln("predict", "--url", f"http://127.0.0.1:{listener.getsockname()[1]}", "--image", SAMPLE,
                    "--labels", labels10, "--timeout", "1", timeout=60)
        took = time.time() - start
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()
        listener.close()
    assert proc.returncode == 1
    assert "timed out" in proc.stderr, proc.stderr
    assert took < 15


def test_predict_flag_errors(kiln, labels10):
    proc = kiln("predict", "--url", "http://127.0.0.1:1", "--image", SAMPLE, "--payload", "binary")
    assert proc.returncode == 2 and "kserve" in proc.stderr, proc.stderr
    proc = kiln("predict", "--url", "https://127.0.0.1:1", "--image", SAMPLE, "--labels", labels10)
    assert proc.returncode == 1 and "https is not supported" in proc.stderr, proc.stderr
    proc = kiln("predict", "--url", "http://127.0.0.1:1", "--image", "/no/such.jpg", "--labels", labels10)
    assert proc.returncode == 1 and "/no/such.jpg" in proc.stderr, proc.stderr
    proc = kiln("predict", "--image", SAMPLE)
    assert proc.returncode == 2


def read_report(path):
    report = json.loads(path.read_text())
    for key in ("url", "model", "protocol", "payload", "mode", "batch", "duration_s", "requests", "throughput",
                "latency_ms", "errors"):
        assert key in report, (key, report)
    for key in ("p50", "p90", "p95", "p99", "mean", "max"):
        assert key in report["latency_ms"]
    for key in ("requests_per_s", "images_per_s"):
        assert key in report["throughput"]
    assert "total" in report["errors"] and "by_kind" in report["errors"]
    return report


def test_loadgen_concurrency(kiln, served, tmp_path):
    url, _ = served
    out = tmp_path / "report.json"
    start = time.time()
    proc = kiln("loadgen", "--url", url, "--concurrency", "2", "--duration", "2", "--warmup", "0.5",
                "--image", SAMPLE, "--output-json", out, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert time.time() - start < 20
    report = read_report(out)
    assert report["mode"] == "concurrency" and report["concurrency"] == 2
    assert report["requests"]["succeeded"] > 5
    assert report["errors"]["total"] == 0, report
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    rps = report["throughput"]["requests_per_s"]
    assert abs(rps - report["requests"]["succeeded"] / 2.0) < 1e-6
    assert "p99" in proc.stdout and "infer/sec" in proc.stdout


def test_loadgen_request_rate_poisson(kiln, served, tmp_path):
    url, _ = served
    out = tmp_path / "rate.json"
    proc = kiln("loadgen", "--url", url, "--request-rate", "25", "--distribution", "poisson", "--duration", "3",
                "--image", SAMPLE, "--output-json", out, "--seed", "3", timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = read_report(out)
    assert report["mode"] == "request_rate" and report["distribution"] == "poisson"
    sent = report["requests"]["completed"] + report["requests"]["unfinished"]
    # Poisson(75): sd ~8.7; 5 sd either side.
    assert 30 <= sent <= 120, report
    assert report["errors"]["total"] == 0, report


@pytest.mark.parametrize("protocol,payload", [("kserve", "binary"), ("tfserving", "json")])
def test_loadgen_batches_and_payloads(kiln, served, tmp_path, protocol, payload):
    url, _ = served
    out = tmp_path / "batch.json"
    proc = kiln("loadgen", "--url", url, "--concurrency", "1", "--duration", "1.5", "--batch", "3",
                "--protocol", protocol, "--payload", payload, "--image", ORANGE, "--output-json", out, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = read_report(out)
    assert report["batch"] == 3 and report["payload"] == payload and report["protocol"] == protocol
    assert report["requests"]["succeeded"] > 0 and report["errors"]["total"] == 0, report
    assert abs(report["throughput"]["images_per_s"] - 3 * report["throughput"]["requests_per_s"]) < 1e-6


def test_loadgen_counts_http_errors(kiln, served, tmp_path):
    url, _ = served
    out = tmp_path / "http_errors.json"
    proc = kiln("loadgen", "--url", url, "--model", "nope", "--concurrency", "2", "--duration", "1",
                "--image", SAMPLE, "--output-json", out, timeout=60)
    assert proc.returncode == 1
    report = read_report(out)
    assert report["requests"]["succeeded"] == 0
    assert report["errors"]["by_kind"].get("http_404", 0) == report["errors"]["total"] > 0, report


def test_loadgen_server_down_counts_connection_errors_and_stops(kiln, tmp_path):
    out = tmp_path / "down.json"
    start = time.time()
    proc = kiln("loadgen", "--url", f"http://127.0.0.1:{free_port()}", "--concurrency", "4", "--duration", "1",
                "--timeout", "2", "--image", SAMPLE, "--output-json", out, timeout=60)
    assert time.time() - start < 15
    assert proc.returncode == 1
    assert "no request succeeded" in proc.stderr, proc.stderr
    report = read_report(out)
    assert report["errors"]["total"] > 0
    assert report["errors"]["by_kind"]["connection"] == report["errors"]["total"]
    # Rate mode against a down server ends on time too.
    proc = kiln("loadgen", "--url", f"http://127.0.0.1:{free_port()}", "--request-rate", "50", "--duration", "1",
                "--timeout", "2", "--image", SAMPLE, timeout=60)
    assert proc.returncode == 1 and "connection=" in proc.stdout, proc.stdout


def test_loadgen_needs_metadata_for_json_and_says_so(kiln, tmp_path):
    proc = kiln("loadgen", "--url", f"http://127.0.0.1:{free_port()}", "--payload", "json", "--duration", "1",
                "--image", SAMPLE, timeout=60)
    assert proc.returncode == 1 and "cannot connect" in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", ["predict", "loadgen"])
def test_help(kiln, command):
    proc = kiln(command, "--help")
    assert proc.returncode == 0 and f"kiln {command}" in proc.stdout
