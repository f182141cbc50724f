"""The TensorFlow ResNet-v2-50 check (scripts/check_tf_resnet.py); runs only where
TensorFlow is installed (it is not a kiln dependency)."""
import os
import subprocess
import sys
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_tf_resnet_v2_50_matches_tensorflow(tmp_path):
    pytest.importorskip("tensorflow", reason="TensorFlow not installed; the fixture-based TF tests still ran")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_tf_resnet.py"), os.environ["KILN_BIN"],
                        str(tmp_path)], capture_output=True, text=True, timeout=900)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
