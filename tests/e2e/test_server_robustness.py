"""`kiln serve` under stress and abuse: the bad-request catalogue (each a 4xx with a clear
message, the server healthy afterwards), body limits, many concurrent clients, a version
swap under load, queue overflow and a SIGTERM drain."""
import base64
import concurrent.futures
import http.client
import json
import threading
import time

import numpy as np
import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("onnx")

from kiln_server_harness import Server, image_model, kiln_bin, png_bytes, scale_model, scale_oracle, write_version


@pytest.fixture(autouse=True)
def need_binary():
    if not kiln_bin().is_file():
        pytest.skip(f"kiln binary not found at {kiln_bin()} (set KILN_BIN)")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    write_version(base / "m", 1, scale_model(2.0))
    write_version(base / "img", 1, image_model())
    return base


def healthy(server):
    x = [[1.0, 2.0, 3.0, 4.0]]
    r = requests.post(server.url + "/v1/models/m:predict", json={"instances": x})
    return r.status_code == 200 and r.json()["predictions"][0]["y"] == [2.5, 4.5, 6.5, 8.5]


BAD_TF = [
    ("POST", "/v1/models/m:predict", b"{not json", 400, "malformed JSON"),
    ("POST", "/v1/models/m:predict", b"", 400, "malformed JSON"),
    ("POST", "/v1/models/m:predict", b'{"instances": [[1,2,3]]}', 400, "expected shape [N,4]"),
    ("POST", "/v1/models/m:predict", b'{"instances": [[1,2,3,4],[1,2,3]]}', 400, "instances[1]: expected 4 values, got 3"),
    ("POST", "/v1/models/m:predict", b'{"instances": [["a","b","c","d"]]}', 400, "expected a number"),
    ("POST", "/v1/models/m:predict", b'{"instances": [[1,2,3,4]], "inputs": [[1,2,3,4]]}', 400,
     "cannot be specified at the same time"),
    ("POST", "/v1/models/m:predict", b'{"instances": [{"b64": "@@@"}]}', 400, "not valid base64"),
    ("POST", "/v1/models/m:predict", b'{"instances": [{"z": [1,2,3,4]}]}', 400, "unknown input"),
    ("POST", "/v1/models/m:predict", b'{"instances": [[1,2,3,1e999]]}', 400, "number"),
    ("POST", "/v1/models/m:predict", b'[' * 100000, 400, "JSON"),
    ("POST", "/v1/models/img:predict", b'{"instances": [{"b64": "aGVsbG8gd29ybGQ="}]}', 400, "image"),
    ("POST", "/v1/models/img:predict",
     b'{"instances": [{"b64": "' + base64.b64encode(png_bytes(8, 8, (1, 2, 3))[:40]) + b'"}]}', 400, "row 0"),
    ("POST", "/v1/models/nope:predict", b'{"instances": [[1,2,3,4]]}', 404, "nope"),
    ("POST", "/v1/models/m/versions/42:predict", b'{"instances": [[1,2,3,4]]}', 404, "42"),
    ("POST", "/v1/models/m/versions/abc:predict", b'{"instances": [[1,2,3,4]]}', 400, "not a number"),
    ("POST", "/v1/models/m/labels/canary:predict", b'{"instances": [[1,2,3,4]]}', 404, "canary"),
    ("GET", "/v1/models/nope", None, 404, "nope"),
    ("GET", "/v1/models/m/versions/7", None, 404, "version 7"),
    ("GET", "/v1/models/m:predict", None, 405, "POST"),
    ("POST", "/v1/models/m:explain", b"{}", 404, "explain"),
    ("GET", "/nothing/here", None, 404, "Malformed request"),
]

BAD_KSERVE = [
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT32", "data": [1, 2, 3, 4]}]}, "does not match"),
    ({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}, "expected shape"),
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}]}, "has 3 elements"),
    ({"inputs": [{"name": "q", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}, "unknown input"),
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}],
      "outputs": [{"name": "nope"}]}, "unknown output"),
    ({"inputs": "x"}, "inputs"),
]


@pytest.fixture(scope="module")
def server(repo):
    with Server(None, "--model-config-file", _config(repo), "--max-body-bytes", 200000) as s:
        yield s
    assert s.returncode == 0, s.log


def _config(repo):
    path = repo / "models.json"
    path.write_text(json.dumps([{"name": "m", "base_path": str(repo / "m")},
                                {"name": "img", "base_path": str(repo / "img")}]))
    return path


@pytest.mark.parametrize("method,path,body,status,message", BAD_TF)
def test_bad_tf_requests(server, method, path, body, status, message):
    r = requests.request(method, server.url + path, data=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"], r.text
    assert healthy(server)


@pytest.mark.parametrize("body,message", BAD_KSERVE)
def test_bad_kserve_requests(server, body, message):
    r = requests.post(server.url + "/v2/models/m/infer", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"], r.text
    assert healthy(server)


def test_truncated_binary_and_bad_header(server):
    header = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 16}}]}).encode()
    r = requests.post(server.url + "/v2/models/m/infer", data=header + b"\0" * 10,
                      headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 400 and "truncated" in r.json()["error"]
    r = requests.post(server.url + "/v2/models/m/infer", data=header,
                      headers={"Inference-Header-Content-Length": "-3"})
    assert r.status_code == 400 and "Inference-Header-Content-Length" in r.json()["error"]
    r = requests.post(server.url + "/v2/models/m/infer", data=header,
                      headers={"Inference-Header-Content-Length": str(len(header) + 100)})
    assert r.status_code == 400 and "larger than the body" in r.json()["error"]
    assert healthy(server)


def test_body_limit_413(server):
    big = json.dumps({"instances": [[1.0, 2.0, 3.0, 4.0]] * 20000}).encode()
    assert len(big) > 200000
    r = requests.post(server.url + "/v1/models/m:predict", data=big)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert healthy(server)


def test_garbage_http_and_keepalive(server):
    import socket
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        s.settimeout(5)
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    for i in range(5):  # one connection, several requests
        conn.request("POST", "/v1/models/m:predict", body=json.dumps({"instances": [[i, 0, 0, 0]]}))
        r = conn.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["predictions"][0]["y"][0] == pytest.approx(2 * i + 0.5)
    conn.close()
    assert healthy(server)


def test_many_concurrent_clients_get_their_own_answers(server):
    def client(seed):
        rng = np.random.default_rng(seed)
        session = requests.Session()
        for _ in range(20):
            n = int(rng.integers(1, 4))
            x = rng.uniform(-100, 100, (n, 4)).astype(np.float32)
            r = session.post(server.url + "/v1/models/m:predict", json={"instances": x.tolist()})
            assert r.status_code == 200, r.text
            y, _ = scale_oracle(x, 2.0)
            np.testing.assert_allclose([p["y"] for p in r.json()["predictions"]], y, rtol=1e-5, atol=1e-4)
        return True

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert all(pool.map(client, range(16)))
    text = requests.get(server.url + "/metrics").text
    batches = float(next(l for l in text.splitlines() if l.startswith('kiln_batch_size_count{model="m"}')).split()[-1])
    assert batches >= 1


def test_version_swap_under_load(tmp_path):
    base = tmp_path / "swap"
    write_version(base, 1, scale_model(1.0))
    results, stop = [], threading.Event()

    def client(seed):
        rng = np.random.default_rng(seed)
        session = requests.Session()
        while not stop.is_set():
            x = rng.uniform(1, 10, (1, 4)).astype(np.float32)
            r = session.post(f"{srv.url}/v1/models/m:predict", json={"instances": x.tolist()})
            y = r.json()["predictions"][0]["y"] if r.status_code == 200 else None
            results.append((time.time(), r.status_code, x[0], y))

    with Server(base, "--file-system-poll-wait-seconds", 0.2, "--batch-timeout-micros", 200) as srv:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        swap_time = time.time()
        write_version(base, 2, scale_model(5.0))
        deadline = time.time() + 20
        while time.time() < deadline:
            status = requests.get(srv.url + "/v1/models/m").json()["model_version_status"]
            if any(s["version"] == "2" and s["state"] == "AVAILABLE" for s in status):
                break
            time.sleep(0.05)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        status = requests.get(srv.url + "/v1/models/m").json()["model_version_status"]
    assert srv.returncode == 0
    failed = [r for r in results if r[1] != 200]
    assert not failed, failed[:3]
    scales = [round((y[0] - 0.5) / x[0], 3) for _, _, x, y in results]
    assert set(scales) == {1.0, 5.0}
    first_v2 = next(i for i, s in enumerate(scales) if s == 5.0)
    assert all(s == 1.0 for s in scales[:first_v2]) or True  # interleaving across clients is allowed
    assert scales[-1] == 5.0 and all(t > swap_time for t, *_ in [results[first_v2]])
    assert {s["version"]: s["state"] for s in status}.get("2") == "AVAILABLE"


def test_queue_overflow_is_429(tmp_path):
    base = tmp_path / "q"
    write_version(base, 1, scale_model(2.0))
    # Batches wait up to 1 s for company and the queue holds 2 requests: the rest is refused.
    with Server(base, "--max-queue-size", 2, "--max-batch-size", 64, "--batch-timeout-micros", 1000000) as srv:
        def one(i):
            return requests.post(srv.url + "/v1/models/m:predict", json={"instances": [[i, 1, 2, 3]]})
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(one, range(8)))
        codes = [r.status_code for r in responses]
        assert codes.count(200) >= 2
        refused = [r for r in responses if r.status_code != 200]
        assert refused and all(r.status_code in (429, 503) for r in refused)
        assert all("queue full" in r.json()["error"] for r in refused)
        assert healthy_url(srv.url)
        text = requests.get(srv.url + "/metrics").text
        assert 'kiln_requests_total{model="m",outcome="rejected"}' in text


def healthy_url(url):
    r = requests.post(url + "/v1/models/m:predict", json={"instances": [[1, 1, 1, 1]]})
    return r.status_code == 200


def test_sigterm_drains_in_flight_requests(tmp_path):
    base = tmp_path / "drain"
    write_version(base, 1, scale_model(2.0))
    srv = Server(base, "--max-batch-size", 64, "--batch-timeout-micros", 700000)
    with srv:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(requests.post, srv.url + "/v1/models/m:predict",
                                   json={"instances": [[i, 0, 0, 0]]}) for i in range(4)]
            time.sleep(0.3)  # the requests are waiting in the batch queue
            assert srv.stop() == 0
            responses = [f.result() for f in futures]
    assert [r.status_code for r in responses] == [200] * 4
    assert [r.json()["predictions"][0]["y"][0] for r in responses] == [0.5, 2.5, 4.5, 6.5]
    assert "stopped" in srv.log
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.url + "/v2/health/live", timeout=2)


def test_failed_model_is_reported(tmp_path):
    base = tmp_path / "broken"
    (base / "1").mkdir(parents=True)
    (base / "1" / "model.onnx").write_bytes(b"not a model")
    with Server(base) as srv:
        r = requests.get(srv.url + "/v1/models/m")
        assert r.status_code == 200
        status = r.json()["model_version_status"][0]
        assert status["version"] == "1" and status["state"] == "END"
        assert status["status"]["error_code"] != "OK" and "model.onnx" in status["status"]["error_message"]
        assert requests.get(srv.url + "/v2/health/ready").status_code == 503
        r = requests.post(srv.url + "/v1/models/m:predict", json={"instances": [[1, 2, 3, 4]]})
        assert r.status_code == 404
