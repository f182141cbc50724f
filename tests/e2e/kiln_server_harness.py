"""Helpers for the `kiln serve` end-to-end tests: tiny ONNX models made with onnx.helper,
a PNG writer (no imaging library needed), and a context manager that runs the real server
on a free loopback port and stops it with SIGTERM."""
import json
import os
import pathlib
import signal
import socket
import struct
import subprocess
import time
import urllib.request
import zlib

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]


def kiln_bin():
    return pathlib.Path(os.environ.get("KILN_BIN", REPO / "build" / "kiln"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scale_model(scale, bias=0.5):
    """x f32 [N,4] -> y = x * scale + bias [N,4], and s = sum(y) over axis 1 [N,1]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes = [
        helper.make_node("Mul", ["x", "scale"], ["xs"], name="mul"),
        helper.make_node("Add", ["xs", "bias"], ["y"], name="add"),
        helper.make_node("ReduceMean", ["y"], ["m"], name="mean", axes=[1], keepdims=1),
        helper.make_node("Mul", ["m", "four"], ["s"], name="sum"),
    ]
    inits = [numpy_helper.from_array(np.array([scale], np.float32), "scale"),
             numpy_helper.from_array(np.array([bias], np.float32), "bias"),
             numpy_helper.from_array(np.array([4.0], np.float32), "four")]
    graph = helper.make_graph(
        nodes, "scale", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, ["N", 1])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def scale_oracle(x, scale, bias=0.5):
    y = x.astype(np.float32) * np.float32(scale) + np.float32(bias)
    return y, y.mean(axis=1, keepdims=True) * 4


IMAGE_SIZE = 16


def image_model():
    """An image model: input f32 [N,3,16,16] NCHW -> per-channel mean [N,3]. Its
    kiln.preprocess metadata keeps pixels as value/255 (no mean/std), so a solid-colour
    image of colour (r,g,b) must give (r,g,b)/255."""
    import onnx
    from onnx import TensorProto, helper
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["probs"], name="flat", axis=1)]
    graph = helper.make_graph(
        nodes, "image_mean",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"kiln.preprocess": json.dumps({
        "resize_shorter": IMAGE_SIZE, "crop": IMAGE_SIZE, "scale": 1 / 255.0,
        "mean": [0, 0, 0], "std": [1, 1, 1], "layout": "NCHW"})})
    return model


PIXEL_SIZE = 224
PIXEL_FEATURES = 8


def pixel_model_weights():
    """The projection of pixel_model: fixed random weights scaled so outputs are O(1)."""
    rng = np.random.default_rng(11)
    n = PIXEL_SIZE * PIXEL_SIZE * 3
    return (rng.standard_normal((n, PIXEL_FEATURES)) / (255.0 * np.sqrt(n))).astype(np.float32)


def pixel_model():
    """A pixel model like those `kiln build --image-input` makes: input uint8
    [N,224,224,3] RGB. Outputs the per-channel mean [N,3] (Cast, Transpose to NCHW,
    GlobalAveragePool) and a fixed random projection of every pixel [N,8], which any
    change of any pixel moves. Its kiln.preprocess metadata resizes the shorter side to
    224, so a 224x224 image reaches the model unchanged."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes = [helper.make_node("Cast", ["pixels"], ["f"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["f"], ["nchw"], name="nchw", perm=[0, 3, 1, 2]),
             helper.make_node("GlobalAveragePool", ["nchw"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["mean"], name="flat", axis=1),
             helper.make_node("Flatten", ["f"], ["row"], name="row", axis=1),
             helper.make_node("MatMul", ["row", "w"], ["proj"], name="proj")]
    graph = helper.make_graph(
        nodes, "pixel_model",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["N", PIXEL_SIZE, PIXEL_SIZE, 3])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N", 3]),
         helper.make_tensor_value_info("proj", TensorProto.FLOAT, ["N", PIXEL_FEATURES])],
        initializer=[numpy_helper.from_array(pixel_model_weights(), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"kiln.preprocess": json.dumps({"resize_shorter": PIXEL_SIZE, "crop": PIXEL_SIZE})})
    return model


def pixel_oracle(pixels):
    """pixel_model's outputs for uint8 pixels [N,224,224,3], in numpy."""
    f = pixels.astype(np.float32)
    return f.mean(axis=(1, 2)), f.reshape(len(f), -1) @ pixel_model_weights()


def png_bytes(width, height, rgb):
    """A solid-colour 8-bit RGB PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def png_image_bytes(pixels):
    """An 8-bit RGB PNG of the uint8 array [H,W,3]."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_version(base, version, model, config=None):
    """Writes base/<version>/model.onnx atomically (built aside, then renamed in), so a
    polling server never sees a half-written version."""
    import onnx
    base = pathlib.Path(base)
    base.mkdir(parents=True, exist_ok=True)
    staging = base / f".staging-{version}"
    staging.mkdir()
    onnx.save(model, str(staging / "model.onnx"))
    if config is not None:
        (staging / "config.json").write_text(json.dumps(config))
    os.rename(staging, base / str(version))


class Server:
    """`with Server(base_path, "--max-batch-size", 8) as s:` runs kiln serve; s.url is the
    base URL. Leaving the block sends SIGTERM and records the exit code in s.returncode."""

    def __init__(self, model_base_path=None, *extra, model_name="m", env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(kiln_bin()), "serve", "--rest-api-port", str(self.port), "--rest-api-address", "127.0.0.1"]
        if model_base_path is not None:
            args += ["--model-base-path", str(model_base_path), "--model-name", model_name]
        self.args = args + [str(a) for a in extra]
        self.returncode = None
        self.log = ""

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kiln serve exited {self.proc.returncode}:\n{self.proc.stdout.read()}")
            try:
                with urllib.request.urlopen(self.url + "/v2/health/live", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        raise AssertionError("kiln serve did not open its port within 60 s")

    def stop(self, timeout=30):
        if self.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.returncode = self.proc.wait()
            self.log = self.proc.stdout.read()
        return self.returncode

    def __exit__(self, *exc):
        self.stop()
        return False
